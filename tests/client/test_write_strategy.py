"""The one exactly-once write loop's 409 ``idempotency-in-flight`` strategies (docs/client.md):
a payment asks by reference at once (InFlight.INQUIRE), a refund waits and sends the same
request again (InFlight.WAIT), and either leaves the outcome unknown when it never learns it."""

from __future__ import annotations

import httpx
import pytest

from terminal.client import InFlight, OutcomeUnknownError, RetryPolicy
from terminal.domain.money import Money, asset
from tests.client.helpers import Backend, Sleeps, make_client
from tests.client.test_client_calls import Scripted, problem

EUR, BTC = asset("EUR"), asset("BTC")
ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


async def test_a_payment_in_flight_is_asked_about_by_reference_not_resent(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps, backend: Backend
) -> None:
    class InFlightOnce(Scripted):
        """The first POST reaches the backend, but the answer is a 409 in-flight (as from a
        gateway that gave up waiting for the instance still carrying it out)."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            if request.method == "POST" and request.url.path == "/payments/v2/payments":
                await resp.aread()
                return problem(409, "idempotency-in-flight")
            return resp

    t = InFlightOnce(stub_transport, {})
    told: list[str] = []
    async with make_client(t, sleeps, api_version="v2") as c:
        q = await c.quote(Money(500, EUR), BTC)
        p = await c.create_payment(
            quote=q,
            reference="rf",
            payload="cryptopos-test:card:approve",
            idempotency_key="K",
            on_unknown=told.append,
        )
    assert p.status == "approved" and [x["reference"] for x in backend.payments()] == ["rf"]
    paths = [(r.method, r.url.path) for r in t.seen if r.url.path.startswith("/payments")]
    assert paths == [("POST", "/payments/v2/payments"), ("GET", "/payments/v2/payments")]
    assert told == ["HTTP 409; asking the backend by reference"] and c.stats.inquiries == 1
    assert sleeps.calls == []  # asked at once, no back-off


async def test_a_refund_in_flight_is_waited_for_and_sent_again_with_the_same_key(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps, backend: Backend
) -> None:
    t = Scripted(stub_transport, {})
    async with make_client(t, sleeps, api_version="v2") as c:
        q = await c.quote(Money(500, EUR), BTC)
        p = await c.create_payment(
            quote=q, reference="rr", payload="cryptopos-test:card:approve", idempotency_key="K"
        )
        path = f"/payments/v2/payments/{p.payment_id}/refunds"
        t.script[f"POST {path}"] = [problem(409, "idempotency-in-flight")] * 2
        r = await c.refund(payment_id=p.payment_id, amount_minor=100, to=ADDRESS, idempotency_key="RK")
    assert r.amount_minor == 100 and r.payment_id == p.payment_id
    posts = t.posts(path)
    assert len(posts) == 3 and {x.headers["Idempotency-Key"] for x in posts} == {"RK"}
    assert len(sleeps.calls) == 2  # backed off before each resend
    assert c.stats.inquiries == 0  # nothing to ask by reference


async def test_a_write_still_in_flight_when_attempts_run_out_is_an_unknown_outcome(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    t = Scripted(stub_transport, {})
    async with make_client(t, sleeps, api_version="v2", policy=RetryPolicy(max_attempts=3)) as c:
        q = await c.quote(Money(500, EUR), BTC)
        p = await c.create_payment(
            quote=q, reference="ru", payload="cryptopos-test:card:approve", idempotency_key="K"
        )
        path = f"/payments/v2/payments/{p.payment_id}/refunds"
        t.script[f"POST {path}"] = [problem(409, "idempotency-in-flight")] * 10
        with pytest.raises(OutcomeUnknownError, match="the refund may have been made"):
            await c.refund(payment_id=p.payment_id, amount_minor=100, to=ADDRESS, idempotency_key="RK")
    assert len(t.posts(path)) == 3


async def test_inquire_without_an_inquiry_is_refused(sleeps: Sleeps) -> None:
    async with make_client(httpx.MockTransport(lambda r: httpx.Response(500)), sleeps) as c:
        with pytest.raises(ValueError, match="needs an inquiry"):
            await c._write_once(
                "/x", {}, "K", parse=dict, in_flight=InFlight.INQUIRE, inquire=None, lost="lost"
            )

"""The client against the real stub (ASGI, in-process) and scripted transports."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import httpx
import pytest

from terminal.client import (
    BackendClient,
    BackendUnavailableError,
    CircuitBreaker,
    CircuitOpenError,
    OutcomeUnknownError,
    ProblemError,
    QuoteExpiredError,
    QuoteRefusedError,
    RetryPolicy,
    UnsupportedError,
)
from terminal.domain.money import Money, asset
from terminal.domain.quote import Quote
from tests.client.helpers import Backend, Sleeps, make_client

EUR = asset("EUR")
BTC = asset("BTC")


def problem(status: int, slug: str, **extra: object) -> httpx.Response:
    body = {"type": f"https://cryptopos.dev/problems/{slug}", "title": slug, "status": status, **extra}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


class Scripted(httpx.AsyncBaseTransport):
    """Answers from a script (a response, an exception, or 'pass' to the inner transport)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None, script: dict[str, list[object]]) -> None:
        self.inner = inner
        self.script = script
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        key = f"{request.method} {request.url.path}"
        steps = self.script.get(key)
        step = steps.pop(0) if steps else "pass"
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        assert self.inner is not None, f"no script for {key}"
        return await self.inner.handle_async_request(request)

    def posts(self, path: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.method == "POST" and r.url.path == path]


async def test_quote_and_payment_on_the_stub(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    async with make_client(stub_transport, sleeps) as c:
        q = await c.quote(Money.parse("12.50", EUR), BTC)
        assert q.fiat == Money(1250, EUR) and q.crypto.asset == BTC and q.crypto.minor > 1000
        p = await c.create_payment(
            quote=q, reference="r-1", payload="cryptopos-test:card:approve", idempotency_key="k-1"
        )
        assert p.status == "approved" and p.amount_minor == q.crypto.minor
        assert (await c.find_by_reference("r-1")) == p
        assert (await c.get_payment(p.payment_id)).payment_id == p.payment_id
        assert await c.find_by_reference("r-none") is None


async def test_same_key_on_every_retry_new_nonce_every_attempt(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps, backend: Backend
) -> None:
    t = Scripted(
        stub_transport,
        {"POST /payments/v1/payments": [httpx.ConnectError("refused"), httpx.ConnectError("refused")]},
    )
    async with make_client(t, sleeps) as c:
        q = await c.quote(Money(500, EUR), BTC)
        p = await c.create_payment(
            quote=q, reference="r-2", payload="cryptopos-test:card:approve", idempotency_key="K"
        )
    posts = t.posts("/payments/v1/payments")
    assert len(posts) == 3
    assert {r.headers["Idempotency-Key"] for r in posts} == {"K"}
    assert len({r.headers["X-Cp-Nonce"] for r in posts}) == 3
    assert len({r.content for r in posts}) == 1
    assert sleeps.calls == [pytest.approx(0.05), pytest.approx(0.1)]
    assert p.status == "approved" and len(backend.payments()) == 1


async def test_a_4xx_is_never_retried(stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps) -> None:
    t = Scripted(stub_transport, {"POST /payments/v1/payments": [problem(422, "amount-mismatch")]})
    async with make_client(t, sleeps) as c:
        q = await c.quote(Money(500, EUR), BTC)
        with pytest.raises(ProblemError) as info:
            await c.create_payment(quote=q, reference="r", payload="x", idempotency_key="K")
    assert info.value.type == "amount-mismatch"
    assert len(t.posts("/payments/v1/payments")) == 1 and sleeps.calls == []


async def test_429_waits_as_long_as_retry_after_says(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    busy = problem(429, "rate-limited")
    busy.headers["Retry-After"] = "3"
    t = Scripted(stub_transport, {"POST /payments/v1/payments": [busy]})
    async with make_client(t, sleeps) as c:
        q = await c.quote(Money(500, EUR), BTC)
        p = await c.create_payment(
            quote=q, reference="r", payload="cryptopos-test:card:approve", idempotency_key="K"
        )
    assert p.status == "approved"
    assert sleeps.calls == [pytest.approx(3.05)]


async def test_5xx_on_a_write_asks_by_reference_before_resending(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps, backend: Backend
) -> None:
    t = Scripted(stub_transport, {"POST /payments/v1/payments": [problem(500, "internal")]})
    async with make_client(t, sleeps) as c:
        q = await c.quote(Money(500, EUR), BTC)
        p = await c.create_payment(
            quote=q, reference="r5", payload="cryptopos-test:card:approve", idempotency_key="K"
        )
    order = [(r.method, r.url.path) for r in t.seen if r.url.path.startswith("/payments")]
    assert order == [
        ("POST", "/payments/v1/payments"),
        ("GET", "/payments/v1/payments"),  # the inquiry comes first
        ("POST", "/payments/v1/payments"),
    ]
    assert p.status == "approved" and len(backend.payments()) == 1
    assert c.stats.inquiries == 1


async def test_committed_then_lost_answer_is_found_not_resent(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps, backend: Backend
) -> None:
    class LoseAnswer(Scripted):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            if (
                request.method == "POST"
                and request.url.path.endswith("/payments")
                and len(self.posts(request.url.path)) == 1
            ):
                await resp.aread()
                raise httpx.ReadTimeout("timed out", request=request)
            return resp

    t = LoseAnswer(stub_transport, {})
    told: list[str] = []
    async with make_client(t, sleeps) as c:
        q = await c.quote(Money(500, EUR), BTC)
        p = await c.create_payment(
            quote=q,
            reference="rl",
            payload="cryptopos-test:card:approve",
            idempotency_key="K",
            on_unknown=told.append,
        )
        # a clean payment never reports an unknown outcome
        clean = await c.create_payment(
            quote=await c.quote(Money(500, EUR), BTC),
            reference="rc",
            payload="cryptopos-test:card:approve",
            idempotency_key="K2",
            on_unknown=told.append,
        )
    assert clean.status == "approved"
    assert told == ["no answer; asking the backend by reference"]  # once, before the inquiry
    assert p.status == "approved"
    # found by reference: never sent again (the second post is the clean payment)
    assert [json.loads(r.content)["reference"] for r in t.posts("/payments/v1/payments")] == ["rl", "rc"]
    assert sorted(p["reference"] for p in backend.payments()) == ["rc", "rl"]


async def test_unknown_outcome_when_even_the_inquiry_fails(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    down = [httpx.ConnectError("refused")] * 10
    t = Scripted(
        stub_transport,
        {"POST /payments/v1/payments": [httpx.ReadTimeout("t")], "GET /payments/v1/payments": list(down)},
    )
    async with make_client(t, sleeps) as c:
        q = await c.quote(Money(500, EUR), BTC)
        with pytest.raises(OutcomeUnknownError):
            await c.create_payment(quote=q, reference="ru", payload="x", idempotency_key="K")


async def test_unreachable_backend_is_reported_as_such(sleeps: Sleeps) -> None:
    t = Scripted(None, {"POST /rates/v1/quotes": [httpx.ConnectError("refused")] * 4})
    async with make_client(t, sleeps) as c:
        with pytest.raises(BackendUnavailableError):
            await c.quote(Money(500, EUR), BTC)
    assert len(t.seen) == 4


async def test_breaker_opens_and_stops_sending(sleeps: Sleeps) -> None:
    t = Scripted(None, {"POST /rates/v1/quotes": [httpx.ConnectError("refused")] * 100})
    now = [0.0]
    async with make_client(
        t, sleeps, breaker=CircuitBreaker(failure_threshold=3, reset_s=30), monotonic=lambda: now[0]
    ) as c:
        with pytest.raises(BackendUnavailableError):
            await c.quote(Money(500, EUR), BTC)
        with pytest.raises(CircuitOpenError):
            await c.quote(Money(500, EUR), BTC)
    assert len(t.seen) == 3


async def test_expired_quote_is_never_submitted(sleeps: Sleeps) -> None:
    t = Scripted(None, {})
    q = Quote(
        quote_id="q1",
        fiat=Money(500, EUR),
        crypto=Money(600, BTC),
        rate=Decimal("83333"),
        spread_bps=100,
        issued_at=time.time() - 120,
        expires_at=time.time() - 60,
    )
    async with make_client(t, sleeps) as c:
        with pytest.raises(QuoteExpiredError):
            await c.create_payment(quote=q, reference="r", payload="x", idempotency_key="K")
    assert t.seen == []


async def test_refused_quote_is_an_error_not_a_tiny_invoice(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    stale = problem(503, "rate-sources-stale", detail="every rate source is older than 30 s")
    stale.headers["Retry-After"] = "5"  # short enough to wait for, but a refusal is not waited out
    t = Scripted(stub_transport, {"POST /rates/v1/quotes": [stale]})
    async with make_client(t, sleeps) as c:
        with pytest.raises(QuoteRefusedError) as info:
            await c.quote(Money(500, EUR), BTC)
    assert info.value.type == "rate-sources-stale" and "older than 30 s" in info.value.message
    assert sleeps.calls == [] and len(t.posts("/rates/v1/quotes")) == 1  # shown at once, not waited out

    tiny = {
        "quote_id": "q",
        "fiat_amount": "5.00",
        "fiat_currency": "EUR",
        "asset": "BTC",
        "crypto_amount": "0.00000001",
        "rate": "0",
        "spread_bps": 100,
        "issued_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-01T00:01:00Z",
    }
    t2 = Scripted(None, {"POST /rates/v1/quotes": [httpx.Response(201, json=tiny)]})
    async with make_client(t2, sleeps) as c:
        with pytest.raises(QuoteRefusedError, match="nonsense rate"):
            await c.quote(Money(500, EUR), BTC)


async def test_deprecation_is_logged_once_and_kept(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    class Deprecated(Scripted):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            resp.headers["Deprecation"] = "@1767225600"
            resp.headers["Sunset"] = "Thu, 01 Jul 2027 00:00:00 GMT"
            resp.headers["Link"] = '</payments/v2/payments>; rel="successor-version"'
            return resp

    seen: list[str] = []
    with caplog.at_level(logging.WARNING, logger="cryptopos.client"):
        async with make_client(
            Deprecated(stub_transport, {}), sleeps, on_notice=lambda n: seen.append(n.api)
        ) as c:
            for _ in range(3):
                await c.quote(Money(500, EUR), BTC)
    assert seen == ["rates/v1"]
    assert len([r for r in caplog.records if "deprecated" in r.message]) == 1
    assert c.deprecations["rates/v1"].sunset == "Thu, 01 Jul 2027 00:00:00 GMT"


async def test_refunds_need_v2(stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps) -> None:
    async with make_client(stub_transport, sleeps) as c:
        with pytest.raises(UnsupportedError, match="v2"):
            await c.refund(payment_id="p", amount_minor=1, to="bc1q", idempotency_key="k")


async def test_retry_budget_stops_a_retry_storm(sleeps: Sleeps) -> None:
    from terminal.client import RetryBudget

    t = Scripted(None, {"GET /payments/v1/payments": [problem(503, "unavailable")] * 100})
    async with make_client(
        t, sleeps, policy=RetryPolicy(max_attempts=10), budget=RetryBudget(ratio=0.0, min_retries=2)
    ) as c:
        with pytest.raises(ProblemError):
            await c.find_by_reference("r")
    assert len(t.seen) == 3  # one try and the two retries the budget allows


def test_signature_covers_the_query(sleeps: Sleeps) -> None:
    # the by-reference path is signed exactly as sent
    from terminal.client.adapters import V2Adapter

    path = V2Adapter().by_reference_path("t 1&x")
    assert path == "/payments/v2/payments?reference=t+1%26x"
    assert json.dumps(path)


async def test_the_real_v1_announces_its_sunset_and_the_client_keeps_it(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cryptopos.client"):
        async with make_client(stub_transport, sleeps, api_version="v1") as c:
            for ref in ("d1", "d2"):
                q = await c.quote(Money(500, EUR), BTC)
                await c.create_payment(
                    quote=q, reference=ref, payload="cryptopos-test:card:approve", idempotency_key=ref
                )
    assert set(c.deprecations) == {"rates/v1", "payments/v1"}
    notice = c.deprecations["payments/v1"]
    assert notice.deprecation.startswith("@") and notice.sunset and "successor-version" in (notice.link or "")
    assert len([r for r in caplog.records if "deprecated" in r.message]) == 2  # once per API, not per call


async def test_auto_negotiates_v2_on_the_real_stub(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    async with make_client(stub_transport, sleeps, api_version="auto") as c:
        q = await c.quote(Money(500, EUR), asset("ETH"))
        p = await c.create_payment(
            quote=q, reference="v2-1", payload="cryptopos-test:card:approve", idempotency_key="k"
        )
    assert c.api_version == "v2" and c.deprecations == {}
    assert p.amount_minor == q.crypto.minor and p.asset == "ETH"


async def test_a_breaker_opening_after_a_maybe_sent_write_is_an_unknown_outcome(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    class OpensAfter(CircuitBreaker):
        """Lets ``n`` requests through, then stays open (as if other requests had failed)."""

        def __init__(self, n: int) -> None:
            super().__init__()
            self.n = n

        def allow(self, now: float) -> bool:
            self.n -= 1
            return self.n >= 0

    # quote, POST (lost answer), inquiry (nothing there yet) go through; the resend is blocked
    t = Scripted(stub_transport, {"POST /payments/v1/payments": [httpx.ReadTimeout("t")]})
    async with make_client(t, sleeps, breaker=OpensAfter(3)) as c:
        q = await c.quote(Money(500, EUR), BTC)
        with pytest.raises(OutcomeUnknownError):
            await c.create_payment(quote=q, reference="rb", payload="x", idempotency_key="K")


def test_the_skeleton_timeout_options_still_work() -> None:
    c = BackendClient(
        base_url="http://x.test", key_id="k", secret=b"s" * 16, connect_timeout=1.5, request_timeout=7.0
    )
    assert (c._http.timeout.connect, c._http.timeout.read, c._http.timeout.write) == (1.5, 7.0, 5.0)


async def test_invoices_through_the_client_on_v2_and_a_clear_error_on_v1(
    stub_transport: httpx.AsyncBaseTransport, sleeps: Sleeps
) -> None:
    async with make_client(stub_transport, sleeps, api_version="v2") as c:
        q = await c.quote(Money(500, EUR), BTC)
        inv = await c.create_invoice(quote=q, reference="r-inv", idempotency_key="K-inv")
        assert inv.kind == "bip21" and inv.uri.startswith("bitcoin:") and inv.reference == "r-inv"
        assert inv.amount_minor == q.crypto.minor and inv.status == "pending"
        # a resend with the same key (a lost answer) is the same invoice, not a second one
        again = await c.create_invoice(quote=q, reference="r-inv", idempotency_key="K-inv")
        assert again.invoice_id == inv.invoice_id
        paid = await c.request_json(
            "POST",
            f"/payments/v2/invoices/{inv.invoice_id}/simulate",
            {"amount_minor": str(inv.amount_minor)},
        )
        assert paid["status"] == "paid"
        fresh = await c.get_invoice(inv.invoice_id)
        assert (fresh.status, fresh.payment_status) == ("paid", "approved")
        assert fresh.payment_id == inv.payment_id
    async with make_client(stub_transport, sleeps, api_version="v1") as c:
        q = await c.quote(Money(500, EUR), BTC)
        with pytest.raises(UnsupportedError, match="invoices need API v2"):
            await c.create_invoice(quote=q, reference="r-inv1", idempotency_key="K-inv1")

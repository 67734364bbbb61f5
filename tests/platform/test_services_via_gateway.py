"""The real services behind the gateway: slow and lost answers reach the terminal as unknown
outcomes (never a false decline), the status inquiry finds the one charge."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.cluster import ManualClock
from backend_stub.deployment import Deployment, shared_app_factory
from backend_stub.faults import InstanceCrashedError
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.client import BackendClient, OutcomeUnknownError
from terminal.domain.money import Money, asset
from tests.platform.helpers import KEY_ID, SECRET, signed, topology

X = "/payments/v1/payments/x"  # a signed request the app answers 404: cheap traffic


async def deployment(ledger: Store, **gateway: float) -> Deployment:
    d = Deployment.in_process(
        topology(gateway=gateway),
        store=ledger,
        settings=ServiceSettings(keys={KEY_ID: SECRET}, slow_s=0.8),
        clock=ManualClock(),
    )
    await d.start()
    return d


def client(d: Deployment) -> BackendClient:
    return BackendClient(
        base_url="http://gateway.test", key_id=KEY_ID, secret=SECRET, transport=InProcessTransport(d.gateway)
    )


async def test_timed_out_payment_is_an_unknown_outcome_not_a_conflict_with_its_own_retry(
    ledger: Store,
) -> None:
    d = await deployment(ledger, per_try_timeout_s=0.3)
    async with client(d) as c:
        q = await c.quote(Money.parse("12.50", "EUR"), asset("BTC"))
        # The gateway times the attempt out; the client asks by reference before it resends, and
        # either learns the payment or reports an unknown outcome -- never a replay refusal (401).
        try:
            settled = await c.create_payment(
                quote=q, reference="r-slow", payload="cryptopos-test:card:slow", idempotency_key="k1"
            )
        except OutcomeUnknownError:
            settled = None
        assert c.stats.inquiries >= 1
        await asyncio.sleep(1.0)  # the first attempt finishes in the background
        found = await c.find_by_reference("r-slow")
        assert found is not None and found.status == "approved"
        assert settled is None or settled.payment_id == found.payment_id
        again = await c.create_payment(
            quote=q, reference="r-slow", payload="cryptopos-test:card:slow", idempotency_key="k1"
        )
        assert again.payment_id == found.payment_id
    assert d.store is not None and d.store.count("payments") == 1
    await d.aclose()


class FailAfterWork:
    """Wraps an instance: the first request to ``path`` (of all instances sharing ``fired``)
    does all its work (nonce, idempotency record, charge) and then its answer is lost: a 503
    from the instance, or the connection reset before any answer (as when the process dies)."""

    def __init__(self, app: ASGIApp, *, path: str, how: str, fired: list[str]) -> None:
        self.app, self.path, self.how, self.fired = app, path, how, fired

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or self.fired:
            await self.app(scope, receive, send)
            return
        self.fired.append(self.how)
        answered: list[int] = []

        async def swallow(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.append(int(message["status"]))

        await self.app(scope, receive, swallow)
        assert answered and answered[0] < 300  # the work was done
        if self.how == "reset":
            raise InstanceCrashedError("died after the work, before the answer")
        body = b'{"type":"https://cryptopos.dev/problems/overloaded","title":"Overloaded","status":503}'
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/problem+json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def failing_deployment(ledger: Store, *, path: str, how: str) -> tuple[Deployment, list[str]]:
    """Real services on ``ledger``; the first request to ``path`` loses its answer (``how``)."""
    make = shared_app_factory(store=ledger, settings=ServiceSettings(keys={KEY_ID: SECRET}))
    fired: list[str] = []
    d = Deployment.in_process(
        topology(),
        store=ledger,
        clock=ManualClock(),
        app_factory=lambda s, b, c: FailAfterWork(make(s, b, c), path=path, how=how, fired=fired),
    )
    await d.start()
    return d, fired


@pytest.mark.parametrize("how", ["503", "reset"])
async def test_a_keyed_write_retried_after_its_answer_was_lost_is_charged_once(
    ledger: Store, how: str
) -> None:
    """The gateway resends the very same signed request to another instance; the services
    accept the retransmission and the idempotency record replays the first charge."""
    d, fired = await failing_deployment(ledger, path="/payments/v2/payments", how=how)
    async with client(d) as c:
        q = await c.quote(Money.parse("12.50", "EUR"), asset("BTC"))
        paid = await c.create_payment(
            quote=q, reference="r-lost-1", payload="tap", idempotency_key="k-lost-1"
        )
        assert paid.status == "approved"
        assert fired == [how] and d.gateway.retries == 1
        found = await c.find_by_reference("r-lost-1")
    assert found is not None and found.payment_id == paid.payment_id
    assert ledger.count("payments") == 1
    await d.aclose()


@pytest.mark.parametrize("how", ["503", "reset"])
async def test_a_read_retried_after_its_answer_was_lost_is_answered(ledger: Store, how: str) -> None:
    d, fired = await failing_deployment(ledger, path="/payments/v2/payments", how=how)
    async with client(d) as c:
        assert await c.find_by_reference("nothing-yet") is None
    assert fired == [how] and d.gateway.retries == 1
    await d.aclose()


async def test_a_write_without_key_is_not_resent_after_its_answer_was_lost(ledger: Store) -> None:
    """Without an idempotency key a lost answer is passed on (unknown outcome), never resent."""
    import httpx

    from terminal.domain import signing

    d, fired = await failing_deployment(ledger, path="/rates/v1/quotes", how="reset")
    body = b'{"fiat_amount":"1.00","fiat_currency":"EUR","asset":"BTC"}'
    headers = signing.signature_headers(
        key_id=KEY_ID,
        secret=SECRET,
        method="POST",
        path="/rates/v1/quotes",
        timestamp=int(__import__("time").time()),
        nonce="plain-1",
        body=body,
    )
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as h:
        r = await h.post(
            "/rates/v1/quotes", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert r.status_code == 502 and r.headers["x-cp-attempts"] == "1"
        resent = await h.post(
            "/rates/v1/quotes", content=body, headers={**headers, "content-type": "application/json"}
        )
    assert (resent.status_code, resent.json()["type"]) == (
        401,
        "https://cryptopos.dev/problems/replayed-request",
    )
    assert fired == ["reset"] and ledger.count("quotes") == 1
    await d.aclose()


async def test_lost_answer_is_passed_on_and_not_charged_twice(ledger: Store) -> None:
    d = await deployment(ledger)
    async with client(d) as c:
        q = await c.quote(Money.parse("12.50", "EUR"), asset("BTC"))
        # the answer is cut after the commit: the client asks by reference and finds the payment
        settled = await c.create_payment(
            quote=q, reference="r-lost", payload="cryptopos-test:card:unknown", idempotency_key="k2"
        )
        assert settled.status == "approved" and c.stats.inquiries == 1
        found = await c.find_by_reference("r-lost")
        assert found is not None and found.payment_id == settled.payment_id
    assert d.gateway.retries == 0
    assert d.store is not None and d.store.count("payments") == 1
    await d.aclose()


async def test_versions_and_discovery_route_through_the_gateway(ledger: Store) -> None:
    d = await deployment(ledger)
    import httpx

    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as h:
        disc = await h.get("/discovery")
        assert disc.status_code == 200 and set(disc.json()["services"]) == {"rates", "payments"}
        assert disc.json()["notices"] == []
        v1 = await h.get(X, headers=signed(X))
        assert v1.status_code == 404 and v1.headers["x-cp-build"] == "1.4.0"
        from tests.platform.helpers import plan

        await d.rollouts.deploy("payments", "1.5.0", plan("[{setWeight: 20}, {pause: {}}]"))
        notices = (await h.get("/discovery")).json()["notices"]
        assert notices == ["payments: rolling out build 1.5.0 (20% of traffic), stable 1.4.0; paused"]
        v2 = await h.get("/rates/v2/openapi.json")
        assert v2.status_code == 200 and v2.json()["info"]["title"].startswith("cryptopos rates v2")
    await d.aclose()


async def test_embedded_backend_is_the_in_process_gateway() -> None:
    from backend_stub.embedded import make_transport

    transport = make_transport(key_id=KEY_ID, secret=SECRET)
    import httpx

    async with BackendClient(base_url="embedded", key_id=KEY_ID, secret=SECRET, transport=transport) as c:
        q = await c.quote(Money.parse("5.00", "EUR"), asset("BTC"))
        p = await c.create_payment(quote=q, reference="r-emb", payload="tap", idempotency_key="k-emb")
        assert p.status == "approved"
        # before the client closes: closing it closes the transport and the deployment it owns
        async with httpx.AsyncClient(transport=transport, base_url="http://embedded.invalid") as h:
            metrics = (await h.get("/metrics")).text
            echo = await h.get(X, headers=signed(X))
    # two upstream attempts: the gateway's /discovery (the client negotiates its API version) and the payment
    assert 'cryptopos_gateway_requests_total{service="payments",build="1.4.0",code="2xx"} 2' in metrics
    assert 'cryptopos_instances{service="payments",build="1.4.0",state="ready"} 2' in metrics
    assert echo.headers["x-cp-instance"].startswith("payments-1.4.0-")


async def test_an_instance_that_stops_being_ready_leaves_the_rotation_and_comes_back(ledger: Store) -> None:
    d = await deployment(ledger)
    pool = d.cluster.pool("payments")
    inst = pool.instances[0]
    app = inst.transport.app  # type: ignore[attr-defined]
    while not hasattr(app, "state"):  # inside the metrics, admission (and fault) middleware
        app = app.app
    app.state.accepting = False  # the app's drain switch
    for _ in range(3):
        await d.tick(1.0)
    assert inst.state.value == "starting" and inst not in pool.ready()
    import httpx

    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as h:
        rs = [await h.get(X, headers=signed(X)) for _ in range(20)]
    assert inst.id not in {r.headers["x-cp-instance"] for r in rs}
    app.state.accepting = True
    await d.tick(1.0)
    assert inst in pool.ready()
    await d.aclose()


async def test_control_api_commands_and_errors(ledger: Store, tmp_path: object) -> None:
    import httpx

    from backend_stub.control import control_app

    d = await deployment(ledger)
    stopped: list[bool] = []
    d.gateway.control = control_app(d, token="t0k", on_shutdown=lambda: stopped.append(True))
    plan_file = __import__("pathlib").Path(str(tmp_path)) / "plan.yaml"
    plan_file.write_text(
        "kind: Rollout\nmetadata: {name: p}\nspec: {strategy: {canary: {steps: [{setWeight: 30}, {pause: {}}]}}}\n"
    )
    auth = {"X-Cp-Control-Token": "t0k"}
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as h:
        assert (
            await h.post("/_platform/deploy", json={"service": "payments", "build": "1.5.0"})
        ).status_code == 401
        unknown = await h.post(
            "/_platform/deploy", json={"service": "payments", "build": "9.9"}, headers=auth
        )
        assert unknown.status_code == 404 and "unknown build '9.9'" in unknown.json()["detail"]
        bad_fault = await h.post(
            "/_platform/deploy",
            json={"service": "payments", "build": "1.5.0", "plan": str(plan_file), "faults": ["eror_rate=1"]},
            headers=auth,
        )
        assert bad_fault.status_code == 422 and "unknown fault 'eror_rate'" in bad_fault.json()["detail"]
        nothing = await h.post("/_platform/promote", json={"service": "payments"}, headers=auth)
        assert nothing.status_code == 409
        ok = await h.post(
            "/_platform/deploy",
            json={
                "service": "payments",
                "build": "1.5.0",
                "plan": str(plan_file),
                "faults": ["latency_ms=1"],
            },
            headers=auth,
        )
        assert ok.status_code == 200 and ok.json()["phase"] == "Paused"
        status = (await h.get("/_platform/status")).json()["services"]["payments"]
        assert status["builds"]["1.5.0"] == {**status["builds"]["1.5.0"], "role": "canary", "weight": 30}
        assert status["builds"]["1.5.0"]["faults"] == "latency_ms=1.0"
        await d.tick(0.3)  # a scrape before the traffic ...
        for _ in range(20):
            await h.get(X, headers=signed(X))
        await d.tick(0.3)  # ... and one after: rate() needs two samples
        ok_share = (
            'sum(rate(cryptopos_requests_total{rollouts_pod_template_hash="1.5.0",code!="5xx"}[1m]))'
            ' / sum(rate(cryptopos_requests_total{rollouts_pod_template_hash="1.5.0"}[1m]))'
        )
        answer = (await h.get("/_platform/query", params={"query": ok_share})).json()
        assert answer["status"] == "success" and answer["data"]["resultType"] == "vector"
        assert [r["value"][1] for r in answer["data"]["result"]] == ["1"]
        bad = await h.get("/_platform/query", params={"query": "sum(rate(x[1m]) by"})
        assert bad.status_code == 400 and bad.json()["type"].endswith("/bad-query")
        promoted = await h.post(
            "/_platform/promote", json={"service": "payments", "full": True}, headers=auth
        )
        assert promoted.json()["phase"] == "Healthy"
        assert (await h.post("/_platform/shutdown", headers=auth)).json() == {"status": "stopping"}
    await asyncio.sleep(0)
    assert stopped == [True]
    await d.aclose()

"""The real services behind the gateway: slow and lost answers reach the terminal as unknown
outcomes (never a false decline), the status inquiry finds the one charge."""

from __future__ import annotations

import asyncio

import pytest

from backend_stub.cluster import ManualClock, SocketLikeTransport
from backend_stub.deployment import Deployment
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.client import BackendClient, OutcomeUnknownError
from terminal.domain.money import Money, asset
from tests.platform.helpers import KEY_ID, SECRET, topology


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
        base_url="http://gateway.test", key_id=KEY_ID, secret=SECRET, transport=SocketLikeTransport(d.gateway)
    )


async def test_timed_out_payment_is_an_unknown_outcome_not_a_replay_refusal(ledger: Store) -> None:
    d = await deployment(ledger, per_try_timeout_s=0.3)
    async with client(d) as c:
        q = await c.quote(Money.parse("12.50", "EUR"), asset("BTC"))
        with pytest.raises(OutcomeUnknownError):
            await c.create_payment(
                quote=q, reference="r-slow", payload="cryptopos-test:card:slow", idempotency_key="k1"
            )
        await asyncio.sleep(1.0)  # the first attempt finishes in the background
        found = await c.find_by_reference("r-slow")
        assert found is not None and found.status == "approved"
        again = await c.create_payment(
            quote=q, reference="r-slow", payload="cryptopos-test:card:slow", idempotency_key="k1"
        )
        assert again.payment_id == found.payment_id
    assert d.store is not None and d.store.count("payments") == 1
    await d.aclose()


async def test_lost_answer_is_passed_on_and_not_charged_twice(ledger: Store) -> None:
    d = await deployment(ledger)
    async with client(d) as c:
        q = await c.quote(Money.parse("12.50", "EUR"), asset("BTC"))
        with pytest.raises(OutcomeUnknownError):
            await c.create_payment(
                quote=q, reference="r-lost", payload="cryptopos-test:card:unknown", idempotency_key="k2"
            )
        found = await c.find_by_reference("r-lost")
        assert found is not None and found.status == "approved"
    assert d.gateway.retries == 0
    assert d.store is not None and d.store.count("payments") == 1
    await d.aclose()


async def test_versions_and_discovery_route_through_the_gateway(ledger: Store) -> None:
    d = await deployment(ledger)
    import httpx

    async with httpx.AsyncClient(transport=SocketLikeTransport(d.gateway), base_url="http://g") as h:
        disc = await h.get("/discovery")
        assert disc.status_code == 200 and set(disc.json()["services"]) == {"rates", "payments"}
        assert disc.json()["notices"] == []
        v1 = await h.get("/payments/v1/payments/x")
        assert v1.status_code == 401 and v1.headers["x-cp-build"] == "1.4.0"
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
    async with BackendClient(base_url="embedded", key_id=KEY_ID, secret=SECRET, transport=transport) as c:
        q = await c.quote(Money.parse("5.00", "EUR"), asset("BTC"))
        p = await c.create_payment(quote=q, reference="r-emb", payload="tap", idempotency_key="k-emb")
        assert p.status == "approved"
    import httpx

    async with httpx.AsyncClient(transport=transport, base_url="http://embedded.invalid") as h:
        metrics = (await h.get("/metrics")).text
        echo = await h.get("/payments/v1/payments/x")
    assert 'cryptopos_requests_total{service="payments",build="1.4.0",code="2xx"} 1' in metrics
    assert 'cryptopos_instances{service="payments",build="1.4.0",state="ready"} 2' in metrics
    assert echo.headers["x-cp-instance"].startswith("payments-1.4.0-")


async def test_an_instance_that_stops_being_ready_leaves_the_rotation_and_comes_back(ledger: Store) -> None:
    d = await deployment(ledger)
    pool = d.cluster.pool("payments")
    inst = pool.instances[0]
    inst.transport.app.state.accepting = False  # type: ignore[attr-defined]  # the app's drain switch
    for _ in range(3):
        await d.tick(1.0)
    assert inst.state.value == "starting" and inst not in pool.ready()
    import httpx

    async with httpx.AsyncClient(transport=SocketLikeTransport(d.gateway), base_url="http://g") as h:
        rs = [await h.get("/payments/v1/payments/x") for _ in range(20)]
    assert inst.id not in {r.headers["x-cp-instance"] for r in rs}
    inst.transport.app.state.accepting = True  # type: ignore[attr-defined]
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
    async with httpx.AsyncClient(transport=SocketLikeTransport(d.gateway), base_url="http://g") as h:
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
        for _ in range(20):
            await h.get("/payments/v1/payments/x")
        analysis = (
            await h.get("/_platform/analysis?service=payments&build=1.5.0&metric=success_rate&window_s=60")
        ).json()
        assert analysis["result"] == 1.0 and analysis["requests"] >= 1
        promoted = await h.post(
            "/_platform/promote", json={"service": "payments", "full": True}, headers=auth
        )
        assert promoted.json()["phase"] == "Healthy"
        assert (await h.post("/_platform/shutdown", headers=auth)).json() == {"status": "stopping"}
    await asyncio.sleep(0)
    assert stopped == [True]
    await d.aclose()

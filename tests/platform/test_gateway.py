"""Gateway: weighted split, retries, ejection, draining, routing (in-process instances)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from backend_stub.cluster import InstanceState, ManualClock
from backend_stub.deployment import Deployment
from backend_stub.faults import FaultSpec
from tests.platform.helpers import client, echo_factory, plan, topology


async def make(**over: object) -> Deployment:
    d = Deployment.in_process(topology(**over), clock=ManualClock(), app_factory=echo_factory())
    await d.start()
    return d


async def test_twenty_percent_split_lands_within_two_points_over_5000_requests() -> None:
    d = await make()
    ro = await d.rollouts.deploy("payments", "1.5.0", plan("[{setWeight: 20}, {pause: {}}]"))
    assert ro.phase.value == "Paused" and d.cluster.pool("payments").weight == 20
    builds: Counter[str] = Counter()
    async with client(d.gateway) as c:
        for _ in range(100):
            rs = await asyncio.gather(*(c.get("/payments/v1/echo") for _ in range(50)))
            builds.update(r.headers["x-cp-build"] for r in rs if r.status_code == 200)
    assert sum(builds.values()) == 5000
    share = builds["1.5.0"] / 5000
    assert abs(share - 0.20) <= 0.02, share
    await d.aclose()


async def test_weight_zero_sends_nothing_to_the_canary_and_unknown_paths_are_problems() -> None:
    d = await make()
    await d.rollouts.deploy("payments", "1.5.0", plan("[{setWeight: 0}, {pause: {}}]"))
    async with client(d.gateway) as c:
        rs = [await c.get("/payments/v1/echo") for _ in range(200)]
        assert {r.headers["x-cp-build"] for r in rs} == {"1.4.0"}
        nope = await c.get("/ledger/v1/x")
        assert nope.status_code == 404 and nope.json()["type"].endswith("/no-route")
        v9 = await c.get("/payments/v9/echo")
        assert v9.status_code == 404 and v9.json()["type"].endswith("/version-not-deployed")
    await d.aclose()


async def replace_one(d: Deployment, spec: FaultSpec) -> str:
    """Swap one stable payments instance for one with ``spec``; returns its id."""
    pool = d.cluster.pool("payments")
    await d.cluster.drain_and_stop(pool.instances[0])
    inst = await d.cluster.start_instance("payments", pool.stable, faults=spec)
    return inst.id


async def test_503_is_retried_to_other_instances_for_keyed_post_and_get_not_for_plain_post() -> None:
    d = await make()
    for _ in range(3):
        await replace_one(d, FaultSpec(error_rate=1.0))
    async with client(d.gateway) as c:
        keyed = await c.post("/payments/v1/echo", headers={"Idempotency-Key": "k1"})
        get = await c.get("/payments/v1/echo")
        plain = await c.post("/payments/v1/echo")
    # every instance fails: 1 try + 2 retries, each on a different instance
    assert keyed.status_code == 503 and keyed.headers["x-cp-attempts"] == "3"
    assert get.status_code == 503 and get.headers["x-cp-attempts"] == "3"
    assert plain.status_code == 503 and plain.headers["x-cp-attempts"] == "1"
    await d.aclose()


async def test_retry_reaches_a_healthy_instance_and_500_is_never_retried() -> None:
    d = await make()
    bad_id = await replace_one(d, FaultSpec(error_rate=1.0))
    async with client(d.gateway) as c:
        rs = [await c.post("/payments/v1/echo", headers={"Idempotency-Key": f"k{i}"}) for i in range(30)]
        assert all(r.status_code == 200 for r in rs)
        assert all(r.headers["x-cp-instance"] != bad_id for r in rs)
        assert any(r.headers["x-cp-attempts"] == "2" for r in rs)
        five_hundred = await c.get("/payments/v1/status/500")
        assert five_hundred.status_code == 500 and five_hundred.headers["x-cp-attempts"] == "1"
    assert d.gateway.retries >= 1
    await d.aclose()


async def test_refused_connection_is_retried_even_for_unkeyed_post() -> None:
    d = await make()
    pool = d.cluster.pool("payments")
    # two instances die without the gateway noticing yet: their sockets refuse connections
    for inst in pool.instances[:2]:
        inst.transport._is_up = lambda: False  # type: ignore[attr-defined]
    async with client(d.gateway) as c:
        rs = [await c.post("/payments/v1/echo") for _ in range(20)]
    assert all(r.status_code == 200 for r in rs)
    assert {r.headers["x-cp-instance"] for r in rs} == {pool.instances[2].id}
    await d.aclose()


async def test_crash_on_nth_request_is_a_reset_retried_when_keyed_then_replaced() -> None:
    d = await make()
    pool = d.cluster.pool("payments")
    crasher_id = await replace_one(d, FaultSpec(crash_on=1))
    crasher = next(i for i in pool.instances if i.id == crasher_id)
    async with client(d.gateway) as c:
        rs = [await c.post("/payments/v1/echo", headers={"Idempotency-Key": f"c{i}"}) for i in range(12)]
    assert all(r.status_code == 200 for r in rs)
    assert crasher.state is InstanceState.CRASHED
    await d.tick(1)
    assert crasher not in pool.instances  # replaced by a new instance
    assert len([i for i in pool.instances if i.running]) == 3
    await d.aclose()


async def test_reset_of_unkeyed_post_is_not_retried() -> None:
    d = await make()
    for _ in range(3):
        await replace_one(d, FaultSpec(crash_on=1))
    async with client(d.gateway) as c:
        r = await c.post("/payments/v1/echo")
    assert r.status_code == 502 and r.headers["x-cp-attempts"] == "1"
    await d.aclose()


async def test_consecutive_failures_eject_an_instance_but_never_more_than_half_the_pool() -> None:
    d = await make(gateway={"eject_after": 3, "eject_s": 30.0, "max_retries": 0})
    pool = d.cluster.pool("payments")
    async with client(d.gateway) as c:
        for _ in range(40):
            await c.get("/payments/v1/status/500")
    ejected = [i for i in pool.instances if d.clock.now() < i.ejected_until]
    assert 1 <= len(ejected) <= 1  # 50% of 3 ready instances: at most one
    async with client(d.gateway) as c:
        rs = [await c.get("/payments/v1/echo") for _ in range(30)]
    assert ejected[0].id not in {r.headers["x-cp-instance"] for r in rs}
    await d.tick(31)
    assert d.clock.now() >= ejected[0].ejected_until
    await d.aclose()


async def test_retry_budget_caps_retries() -> None:
    d = await make(gateway={"retry_budget_min": 2, "retry_budget_ratio": 0.0, "eject_after": 1000})
    for _ in range(3):
        await replace_one(d, FaultSpec(error_rate=1.0))
    async with client(d.gateway) as c:
        rs = [await c.get("/payments/v1/echo") for _ in range(5)]
    assert all(r.status_code == 503 for r in rs)
    assert d.gateway.retries == 2 and d.gateway.budget_exhausted >= 1
    await d.aclose()


async def test_hung_instance_times_out_and_get_is_retried_elsewhere() -> None:
    d = await make(gateway={"per_try_timeout_s": 0.2})
    hung = await replace_one(d, FaultSpec(hang=True))
    async with client(d.gateway) as c:
        rs = [await c.get("/payments/v1/echo") for _ in range(8)]
    assert all(r.status_code == 200 for r in rs)
    assert hung not in {r.headers["x-cp-instance"] for r in rs}
    assert any(r.headers["x-cp-attempts"] == "2" for r in rs)
    await d.aclose()


async def test_draining_loses_no_slow_in_flight_request() -> None:
    d = await make()
    pool = d.cluster.pool("payments")
    victim = pool.instances[0]
    async with client(d.gateway) as c:
        in_flight = [
            asyncio.ensure_future(c.get("/payments/v1/slow", params={"s": "0.3"})) for _ in range(12)
        ]
        for _ in range(50):
            await asyncio.sleep(0.01)
            if victim.in_flight >= 2:
                break
        assert victim.in_flight >= 2
        drained = asyncio.ensure_future(d.cluster.drain_and_stop(victim))
        await asyncio.sleep(0.05)
        assert victim.state is InstanceState.DRAINING
        during = [await c.get("/payments/v1/echo") for _ in range(10)]
        results = await asyncio.gather(*in_flight)
        await drained
    assert all(r.status_code == 200 for r in results)
    assert victim.id in {r.headers["x-cp-instance"] for r in results}
    assert all(r.status_code == 200 and r.headers["x-cp-instance"] != victim.id for r in during)
    assert victim.state is InstanceState.STOPPED and victim not in pool.instances
    await d.aclose()


async def test_scale_down_by_reconcile_drains_instead_of_cutting() -> None:
    d = await make()
    pool = d.cluster.pool("payments")
    async with client(d.gateway) as c:
        in_flight = [asyncio.ensure_future(c.get("/payments/v1/slow", params={"s": "0.2"})) for _ in range(9)]
        await asyncio.sleep(0.05)
        pool.replicas = 1
        await d.cluster.reconcile("payments")
        results = await asyncio.gather(*in_flight)
        await d.cluster.settle()
    assert [r.status_code for r in results] == [200] * 9
    assert len(pool.instances) == 1


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
async def test_gateway_own_endpoints(path: str) -> None:
    d = await make()
    async with client(d.gateway) as c:
        await c.get("/payments/v1/echo")
        r = await c.get(path)
    assert r.status_code == 200
    if path == "/metrics":
        assert 'cryptopos_gateway_requests_total{service="payments",build="1.4.0",code="2xx"} 1' in r.text
        assert 'cryptopos_build_weight{service="payments",build="1.4.0"} 100' in r.text
    await d.aclose()


async def test_an_answer_cut_mid_response_is_passed_on_not_retried() -> None:
    from backend_stub.transport import InProcessTransport

    d = await make()
    import httpx

    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        with pytest.raises(httpx.ReadError):
            await c.post("/payments/v1/cut", headers={"Idempotency-Key": "k"})
    served = sum(i.served for i in d.cluster.pool("payments").instances)
    assert served == 1  # processed once, not retried elsewhere
    assert d.gateway.retries == 0
    await d.aclose()

"""Autoscaler: HPA arithmetic, tolerance, stabilization, scale-up limits, scale to zero and back."""

from __future__ import annotations

import asyncio

import pytest

from backend_stub.autoscale import ServiceScaler, hpa_desired, scale_up_limit
from backend_stub.cluster import InstanceState, ManualClock
from backend_stub.deployment import Deployment
from backend_stub.topology import AutoscaleConfig
from tests.platform.helpers import client, echo_factory, topology


@pytest.mark.parametrize(
    ("current", "metric", "target", "want"),
    [
        (1, 200, 100, 2),  # the Kubernetes docs' example: 200m / 100m doubles
        (3, 50, 100, 2),  # ceil(1.5)
        (4, 105, 100, 4),  # within the 0.1 tolerance: no change
        (4, 110, 100, 4),  # exactly at the tolerance: no change
        (4, 111, 100, 5),  # ceil(4.44)
        (10, 1, 100, 1),
        (5, 0, 100, 0),  # the caller clamps to min_replicas
        (0, 500, 100, 0),  # nothing running: the formula has nothing to scale
    ],
)
def test_hpa_formula(current: int, metric: float, target: float, want: int) -> None:
    assert hpa_desired(current, metric, target, tolerance=0.1) == want


def test_scale_up_limit_is_the_larger_of_percent_and_pods() -> None:
    assert scale_up_limit(2, percent=100, pods=4) == 6
    assert scale_up_limit(10, percent=100, pods=4) == 20


def scaler(**cfg: float) -> ServiceScaler:
    return ServiceScaler(AutoscaleConfig(**cfg), min_replicas=1, max_replicas=20, target=50.0)  # type: ignore[arg-type]


def identity(s: float) -> float:
    return s


def test_scale_down_is_stabilized_over_the_window() -> None:
    s = scaler(scale_down_stabilization_s=300)
    assert s.decide(now=0, current=4, metric=50, scaled=identity).desired == 4
    # load drops to a quarter: the formula says 1, but 4 was recommended within 300 s
    downs = [s.decide(now=t, current=4, metric=12.5, scaled=identity) for t in (15, 60, 150, 299)]
    assert [d.recommended for d in downs] == [1, 1, 1, 1]
    assert [d.desired for d in downs] == [4, 4, 4, 4]
    assert downs[0].reason == "scale-down stabilization"
    assert s.decide(now=301, current=4, metric=12.5, scaled=identity).desired == 1


def test_scale_up_is_limited_per_period() -> None:
    s = scaler()
    d = s.decide(now=0, current=2, metric=500, scaled=identity)  # formula: 20
    assert d.recommended == 20 and d.desired == 6 and d.reason == "scale-up limit"
    # within the same 15 s period the limit still counts from 2
    assert s.decide(now=5, current=6, metric=500, scaled=identity).desired == 6
    assert s.decide(now=16, current=6, metric=170, scaled=identity).desired == 12


def test_clamped_to_min_and_max() -> None:
    s = ServiceScaler(
        AutoscaleConfig(scale_down_stabilization_s=0), min_replicas=2, max_replicas=5, target=50.0
    )
    assert s.decide(now=0, current=4, metric=1, scaled=identity).desired == 2
    s2 = ServiceScaler(AutoscaleConfig(scale_up_pods=100), min_replicas=1, max_replicas=5, target=50.0)
    assert s2.decide(now=0, current=4, metric=1000, scaled=identity).desired == 5


async def test_cluster_scales_up_under_load_and_back_down_after_stabilization() -> None:
    topo = topology(autoscale={"interval_s": 15.0, "window_s": 30.0})
    d = Deployment.in_process(topo, clock=ManualClock(), app_factory=echo_factory())
    await d.start()
    pool = d.cluster.pool("payments")
    await d.tick()  # arms the autoscaler's timer
    async with client(d.gateway) as c:
        # the window is 30 plan s = 0.5 s of cluster time; 600 requests = 1200 rps for 3 instances
        for _ in range(6):
            await asyncio.gather(*(c.get("/payments/v1/echo") for _ in range(100)))
    await d.tick(15 / 60)
    decision = d.autoscaler.decisions["payments"]
    assert decision.metric == pytest.approx(400.0)
    assert decision.recommended == 10  # ceil(3 * 400 / 50) = 24, clamped to max 10
    assert pool.replicas == 7 and decision.reason == "scale-up limit"  # 3 + 4 pods in one period
    assert len([i for i in pool.instances if i.running]) == 7
    await d.tick(15 / 60)  # same scale-up period: still limited from 3
    assert pool.replicas == 7
    # idle now: the formula wants 1 at once, stabilization keeps 7 for 300 plan seconds
    await d.tick(15 / 60)
    assert d.autoscaler.decisions["payments"].recommended == 1
    assert pool.replicas == 7
    for _ in range(20):
        await d.tick(15 / 60)
    assert pool.replicas == 1
    await d.cluster.settle()
    assert len(pool.instances) == 1
    await d.aclose()


async def test_scale_to_zero_after_idle_window_and_first_request_held_until_ready() -> None:
    topo = topology(
        services={
            "rates": {"stable": "1.0.0", "replicas": 1, "builds": {"1.0.0": {}}},
            "payments": {
                "stable": "1.4.0",
                "replicas": 1,
                "min_replicas": 0,
                "idle_to_zero_s": 60.0,
                "builds": {"1.4.0": {"faults": {"slow_start_s": 2.0}}},
            },
        }
    )
    clock = ManualClock()
    d = Deployment.in_process(topo, clock=clock, app_factory=echo_factory())
    await d.start()
    pool = d.cluster.pool("payments")
    clock.advance(2.0)  # the first instance finishes its slow start
    await d.tick()
    assert pool.ready()
    for _ in range(5):
        await d.tick(15 / 60)
    assert pool.replicas == 0, d.autoscaler.decisions["payments"]
    await d.cluster.settle()
    assert pool.instances == []
    async with client(d.gateway) as c:
        first = asyncio.ensure_future(c.get("/payments/v1/echo"))
        await asyncio.sleep(0.2)
        assert not first.done()  # held, not failed: the new instance is still starting
        assert pool.replicas == 1 and pool.instances[0].state is InstanceState.STARTING
        clock.advance(2.0)  # slow start over
        r = await asyncio.wait_for(first, 2.0)
    assert r.status_code == 200 and r.json()["build"] == "1.4.0"
    await d.aclose()


async def test_held_request_gets_a_clear_503_after_the_hold_timeout() -> None:
    topo = topology(
        gateway={"hold_timeout_s": 0.2},
        services={
            "rates": {"stable": "1.0.0", "replicas": 1, "builds": {"1.0.0": {}}},
            "payments": {
                "stable": "1.4.0",
                "replicas": 0,
                "min_replicas": 0,
                "builds": {"1.4.0": {"faults": {"slow_start_s": 60.0}}},
            },
        },
    )
    d = Deployment.in_process(topo, clock=ManualClock(), app_factory=echo_factory())
    await d.start()
    async with client(d.gateway) as c:
        r = await c.get("/payments/v1/echo")
    assert r.status_code == 503 and r.json()["type"].endswith("/no-instance")
    await d.aclose()

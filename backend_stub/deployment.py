"""A whole emulated deployment: cluster + gateway + rollout controller + autoscaler.

``Deployment.in_process(topology)`` is what tests, the bench and the embedded backend use;
``backend_stub.supervisor`` builds the same thing with uvicorn processes as instances.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from backend_stub.autoscale import Autoscaler
from backend_stub.cluster import (
    AppFactory,
    Clock,
    Cluster,
    InProcessRunner,
    ManualClock,
    MonotonicClock,
    Runner,
)
from backend_stub.faults import FaultSpec
from backend_stub.gateway import Gateway
from backend_stub.rollout import RolloutController, RolloutPlan, load_plan
from backend_stub.state import BackendState
from backend_stub.topology import BuildConfig, Topology

DEFAULT_PLAN_DIR = Path("config/rollouts")


def shared_app_factory(state: BackendState) -> AppFactory:
    """Instances that share one in-memory store: the services' per-service factory when the
    app module has one, else the whole backend app (the gateway only routes its service to it)."""
    from backend_stub import app as app_module

    per_service = getattr(app_module, "create_service_app", None)

    def make(service: str, build: str, config: BuildConfig) -> ASGIApp:
        if per_service is not None:
            params = inspect.signature(per_service).parameters
            kwargs: dict[str, Any] = {}
            if "store" in params:
                kwargs["store"] = state
            if "settings" in params:
                kwargs["settings"] = dict(config.settings)
            if "build" in params:
                kwargs["build"] = build
            made: ASGIApp = per_service(service, **kwargs)
            return made
        whole: ASGIApp = app_module.create_app(state)
        return whole

    return make


@dataclass
class Deployment:
    topology: Topology
    cluster: Cluster
    gateway: Gateway
    rollouts: RolloutController
    autoscaler: Autoscaler
    clock: Clock

    @classmethod
    def build(
        cls,
        topology: Topology,
        *,
        runner: Runner,
        clock: Clock,
        auto_tick_s: float | None = None,
        control: ASGIApp | None = None,
    ) -> Deployment:
        cluster = Cluster(topology, runner=runner, clock=clock)
        gateway = Gateway(cluster, auto_tick_s=auto_tick_s, control=control)
        return cls(topology, cluster, gateway, RolloutController(cluster), Autoscaler(cluster), clock)

    @classmethod
    def in_process(
        cls,
        topology: Topology,
        *,
        state: BackendState | None = None,
        clock: Clock | None = None,
        app_factory: AppFactory | None = None,
        auto_tick_s: float | None = None,
    ) -> Deployment:
        clock = clock or ManualClock()
        factory = app_factory or shared_app_factory(state or BackendState())
        return cls.build(
            topology, runner=InProcessRunner(factory, clock=clock), clock=clock, auto_tick_s=auto_tick_s
        )

    async def start(self) -> None:
        await self.cluster.start()

    async def tick(self, seconds: float = 0.0) -> None:
        """Move a manual clock forward (if any) and run one control loop pass."""
        if seconds:
            if not isinstance(self.clock, ManualClock):
                raise TypeError("only a ManualClock can be moved forward")
            self.clock.advance(seconds)
        await self.cluster.tick()

    async def aclose(self) -> None:
        await self.cluster.aclose()

    def plan_for(self, service: str, plan_path: Path | None = None) -> RolloutPlan:
        if plan_path is None:
            configured = (
                self.topology.services[service].rollout if service in self.topology.services else None
            )
            plan_path = Path(configured) if configured else DEFAULT_PLAN_DIR / f"{service}.yaml"
        return load_plan(plan_path)

    async def deploy(
        self, service: str, build: str, *, plan: RolloutPlan, faults: FaultSpec | None = None
    ) -> dict[str, Any]:
        ro = await self.rollouts.deploy(service, build, plan, faults=faults)
        return ro.as_json(self.clock.now())

    def status(self) -> dict[str, Any]:
        now = self.clock.now()
        window = max(self.topology.scaled(self.topology.autoscale.window_s), 1e-9)
        services: dict[str, Any] = {}
        for name, pool in self.cluster.pools.items():
            builds: dict[str, Any] = {}
            names = [pool.stable, *([pool.canary] if pool.canary else []), *pool.retiring]
            for b in dict.fromkeys(names):
                role = "stable" if b == pool.stable else "canary" if b == pool.canary else "retiring"
                weight = (
                    (100 - pool.weight if pool.canary else 100)
                    if role == "stable"
                    else pool.weight
                    if role == "canary"
                    else 0
                )
                builds[b] = {
                    "role": role,
                    "weight": weight,
                    "faults": self.cluster.faults_for(name, b).describe(),
                    "metrics": self.cluster.metrics.build(name, b).window(now, window).as_json(),
                }
            ro = self.rollouts.rollouts.get(name)
            decision = self.autoscaler.decisions.get(name)
            services[name] = {
                "replicas": pool.replicas,
                "builds": builds,
                "instances": [i.as_json(now) for i in pool.instances],
                "rollout": None if ro is None else ro.as_json(now),
                "autoscaler": None if decision is None else decision.as_json(),
            }
        return {
            "time_scale": self.topology.time_scale,
            "services": services,
            "events": [{"t": round(t, 3), "event": e} for t, e in self.cluster.events[-20:]],
            "gateway_stats": {
                "retries": self.gateway.retries,
                "retry_budget_exhausted": self.gateway.budget_exhausted,
            },
        }


def monotonic() -> Clock:
    return MonotonicClock()

"""A whole emulated deployment: cluster + gateway + rollout controller + autoscaler.

``Deployment.in_process(topology)`` is what tests, the bench and the embedded backend use;
``backend_stub.supervisor`` builds the same thing with uvicorn processes as instances.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from backend_stub.admission import admission_limits
from backend_stub.app import SERVICES, create_service_app
from backend_stub.autoscale import Autoscaler
from backend_stub.cluster import (
    AppFactory,
    Clock,
    Cluster,
    ClusterError,
    InProcessRunner,
    ManualClock,
    MonotonicClock,
    Runner,
)
from backend_stub.faults import FaultSpec
from backend_stub.gateway import Gateway, KeyBook
from backend_stub.rollout import RolloutController, RolloutPlan, load_plan
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.topology import BuildConfig, Topology

DEFAULT_PLAN_DIR = Path("config/rollouts")  # in-process deployments, relative to the current folder


def service_settings(base: ServiceSettings, build: str, behaviour: dict[str, Any]) -> ServiceSettings:
    """A build's behaviour (``[services.X.builds."B"].settings``) over the shared settings."""
    known = {f.name for f in dataclasses.fields(ServiceSettings)} - {"keys", "clock"}
    unknown = sorted(set(behaviour) - known)
    if unknown:
        raise ClusterError(
            f"build {build}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return dataclasses.replace(base, **behaviour) if behaviour else base


def shared_app_factory(*, store: Store, settings: ServiceSettings) -> AppFactory:
    """Instances that share one ledger: each runs one service, all its API versions."""

    def make(service: str, build: str, config: BuildConfig) -> ASGIApp:
        if service not in SERVICES:
            raise ClusterError(f"no service app named {service!r}; services: {', '.join(SERVICES)}")
        app: ASGIApp = create_service_app(
            service,  # checked against SERVICES above
            store=store,
            settings=service_settings(settings, build, dict(config.settings)),
            build=build,
        )
        return app

    return make


@dataclass
class Deployment:
    topology: Topology
    cluster: Cluster
    gateway: Gateway
    rollouts: RolloutController
    autoscaler: Autoscaler
    clock: Clock
    store: Store | None = None  # the ledger, when this deployment owns it
    topology_dir: Path | None = None  # a topology file's folder: its relative plan paths start there
    _owned: list[Store] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        topology: Topology,
        *,
        runner: Runner,
        clock: Clock,
        auto_tick_s: float | None = None,
        control: ASGIApp | None = None,
        keys: KeyBook | None = None,
    ) -> Deployment:
        """``keys``: the terminals' keys, so the gateway refuses badly signed requests and
        rate-limits by a key id it has verified (without them it passes every request on)."""
        cluster = Cluster(topology, runner=runner, clock=clock)
        gateway = Gateway(cluster, auto_tick_s=auto_tick_s, control=control, keys=keys)
        d = cls(topology, cluster, gateway, RolloutController(cluster), Autoscaler(cluster), clock)
        gateway.notices = d.notices
        return d

    def notices(self) -> list[str]:
        """Running rollouts, for the discovery document's ``notices``."""
        out = []
        for name, ro in self.rollouts.rollouts.items():
            pool = self.cluster.pool(name)
            if ro.phase.value in ("Progressing", "Paused"):
                out.append(
                    f"{name}: rolling out build {ro.canary} ({pool.weight}% of traffic), "
                    f"stable {ro.previous}; {ro.phase.value.lower()}"
                )
        return out

    @classmethod
    def in_process(
        cls,
        topology: Topology,
        *,
        store: Store | None = None,
        settings: ServiceSettings | None = None,
        clock: Clock | None = None,
        app_factory: AppFactory | None = None,
        auto_tick_s: float | None = None,
    ) -> Deployment:
        """Every instance an ASGI app in this process, all sharing one ledger (a temporary
        one, removed by :meth:`aclose`, unless ``store`` is given)."""
        clock = clock or ManualClock()
        owned = store is None and app_factory is None
        the_store = Store.temporary() if owned else store
        factory = app_factory
        keys: KeyBook | None = None
        the_settings = settings or ServiceSettings()
        if factory is None:
            assert the_store is not None
            factory = shared_app_factory(store=the_store, settings=the_settings)
            table = {k: (v,) for k, v in the_settings.keys.items()}  # the instances' own keys
            keys = lambda: table  # noqa: E731
        runner = InProcessRunner(factory, clock=clock, admission=admission_limits(topology.limits))
        d = cls.build(topology, runner=runner, clock=clock, auto_tick_s=auto_tick_s, keys=keys)
        d.gateway.auth_clock = the_settings.clock
        d.store = the_store
        if owned and the_store is not None:
            d._owned.append(the_store)
        return d

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
        await self.gateway.aclose()
        await self.cluster.aclose()
        for store in self._owned:
            store.close()
        self._owned.clear()

    def plan_for(self, service: str, plan_path: Path | None = None) -> RolloutPlan:
        if plan_path is None:
            configured = (
                self.topology.services[service].rollout if service in self.topology.services else None
            )
            if self.topology_dir is None:
                plan_path = Path(configured) if configured else DEFAULT_PLAN_DIR / f"{service}.yaml"
            else:
                plan_path = self.topology_dir / (configured or f"rollouts/{service}.yaml")
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
            "gateway_stats": self.gateway.status(),
            "limits": self.topology.limits.model_dump(),
        }


def monotonic() -> Clock:
    return MonotonicClock()

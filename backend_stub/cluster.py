"""Instances, pools and builds: what the gateway routes to and the controllers steer.

An *instance* is one running copy of one build of one service (a "container"). A *pool*
holds a service's instances; its stable build gets ``replicas`` instances and, during a
rollout, a canary build gets its own count and a traffic weight. Controllers (rollout,
autoscaler) only change the desired counts and weights; :meth:`Cluster.reconcile` starts
and drains instances to match, like a Deployment controller.

Two runners start instances: :class:`InProcessRunner` (an ASGI app per instance behind
:class:`backend_stub.transport.InProcessTransport`, for fast tests) and
``backend_stub.processes.ProcessRunner`` (uvicorn processes on loopback). Time comes from a
:class:`Clock`; with a :class:`ManualClock` and :meth:`Cluster.tick`, tests move time forward
without sleeping.

Errors::

    ClusterError (Exception)     a service or build that the topology does not know
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import InitVar, dataclass, field
from typing import Any, Protocol

import httpx
from starlette.types import ASGIApp

from backend_stub.admission import AdmissionLimits, AdmissionMiddleware
from backend_stub.faults import FaultMiddleware, FaultSpec
from backend_stub.metrics import MetricsRegistry, instrument
from backend_stub.monitoring import Monitoring
from backend_stub.topology import BuildConfig, Topology
from backend_stub.transport import InProcessTransport
from backend_stub.upstream import HttpxUpstream, Upstream

PROBE_TIMEOUT_S = 2.0
UNREADY_AFTER = 2  # failed readiness checks in a row before an instance leaves the rotation
log = logging.getLogger(__name__)


class ClusterError(Exception):
    pass


class Clock(Protocol):
    def now(self) -> float: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += seconds


class InstanceState(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"
    CRASHED = "crashed"


@dataclass(eq=False)
class Instance:
    id: str
    service: str
    build: str
    base_url: str
    transport: httpx.AsyncBaseTransport
    started_at: float
    stop_hook: Callable[[], Awaitable[None]]
    alive: Callable[[], bool] = lambda: True
    pid: int | None = None  # its process, when it is one (status, benchmarks)
    state: InstanceState = InstanceState.STARTING
    in_flight: int = 0
    served: int = 0
    consecutive_failures: int = 0
    ejected_until: float = 0.0
    failed_checks: int = 0
    next_check_at: float = 0.0
    # how the gateway forwards to it (default: through ``client``); probes use ``client``
    pool: InitVar[Upstream | None] = None
    client: httpx.AsyncClient = field(init=False)
    upstream: Upstream = field(init=False)
    _idle: asyncio.Event | None = None

    def __post_init__(self, pool: Upstream | None) -> None:
        self.client = httpx.AsyncClient(
            transport=self.transport,
            base_url=self.base_url,
            timeout=httpx.Timeout(30.0, connect=2.0),
            limits=httpx.Limits(keepalive_expiry=4.0),
        )
        self.upstream = pool if pool is not None else HttpxUpstream(self.client)

    @property
    def idle(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
            if self.in_flight == 0:
                self._idle.set()
        return self._idle

    def begin(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def end(self) -> None:
        self.in_flight -= 1
        self.served += 1
        if self.in_flight == 0:
            self.idle.set()

    @property
    def running(self) -> bool:
        """Counts towards its build's replicas (starting or serving, not leaving)."""
        return self.state in (InstanceState.STARTING, InstanceState.READY)

    def eligible(self, now: float) -> bool:
        return self.state is InstanceState.READY and now >= self.ejected_until

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "build": self.build,
            "url": self.base_url,
            "state": self.state.value,
            "in_flight": self.in_flight,
            "served": self.served,
            "pid": self.pid,
            "ejected": now < self.ejected_until,
        }


AppFactory = Callable[[str, str, BuildConfig], ASGIApp]


class Runner(Protocol):
    async def start(
        self, *, instance_id: str, service: str, build: str, config: BuildConfig, faults: FaultSpec
    ) -> Instance: ...

    async def aclose(self) -> None: ...


class InProcessRunner:
    """Every instance is an ASGI app built by ``app_factory`` in this process."""

    def __init__(
        self, app_factory: AppFactory, *, clock: Clock, admission: AdmissionLimits | None = None
    ) -> None:
        self.app_factory = app_factory
        self.clock = clock
        self.admission = admission  # each app behind the instance's own admission, as a process is

    async def start(
        self, *, instance_id: str, service: str, build: str, config: BuildConfig, faults: FaultSpec
    ) -> Instance:
        box: list[Instance] = []

        def crashed() -> None:
            box[0].state = InstanceState.CRASHED

        app: ASGIApp = self.app_factory(service, build, config)
        if faults.active:
            app = FaultMiddleware(app, faults, clock=self.clock.now, on_crash=crashed)
        if self.admission is not None:
            app = AdmissionMiddleware(app, self.admission)
        # outside the faults (they are the build's own) and the admission (a shed request arrived too)
        app = instrument(app, service=service, build=build)

        def is_up() -> bool:
            return bool(box) and box[0].state not in (InstanceState.STOPPED, InstanceState.CRASHED)

        async def stop() -> None:
            return None

        inst = Instance(
            id=instance_id,
            service=service,
            build=build,
            base_url=f"http://{instance_id}.in-process",
            transport=InProcessTransport(app, is_up=is_up),
            started_at=self.clock.now(),
            stop_hook=stop,
        )
        box.append(inst)
        return inst

    async def aclose(self) -> None:
        return None


@dataclass(eq=False)
class Pool:
    service: str
    stable: str
    replicas: int
    instances: list[Instance] = field(default_factory=list)
    canary: str | None = None
    canary_replicas: int = 0
    weight: int = 0  # percent of traffic to the canary
    retiring: dict[str, int] = field(default_factory=dict)  # old builds still scaled down gradually
    faults: dict[str, FaultSpec] = field(default_factory=dict)  # per-build overrides (deploy --fault)
    last_request_at: float | None = None

    def desired(self) -> dict[str, int]:
        want = dict(self.retiring)
        want[self.stable] = self.replicas
        if self.canary is not None:
            want[self.canary] = self.canary_replicas
        return want

    def of_build(self, build: str) -> list[Instance]:
        return [i for i in self.instances if i.build == build]

    def ready(self) -> list[Instance]:
        return [i for i in self.instances if i.state is InstanceState.READY]


class Cluster:
    """Every service's pool, the shared metrics, and the controllers' hooks."""

    def __init__(self, topology: Topology, *, runner: Runner, clock: Clock) -> None:
        self.topology = topology
        self.runner = runner
        self.clock = clock
        self.metrics = MetricsRegistry()  # the gateway's records of its attempts
        # what the instances export, scraped: the analyses and the autoscaler query it
        self.monitoring = Monitoring(
            scrape_interval_s=topology.monitoring.scrape_interval_s, scale=topology.scaled
        )
        self.pools: dict[str, Pool] = {
            name: Pool(service=name, stable=svc.stable, replicas=svc.replicas)
            for name, svc in topology.services.items()
        }
        for pool in self.pools.values():
            pool.last_request_at = clock.now()
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.tick_hooks: list[Callable[[float], Awaitable[None]]] = []
        self.events: list[tuple[float, str]] = []  # what happened, for status and the bench timeline
        self._started = False
        self._reconcile_lock: asyncio.Lock | None = None

    # -- lookup ----------------------------------------------------------------------

    def pool(self, service: str) -> Pool:
        try:
            return self.pools[service]
        except KeyError:
            raise ClusterError(f"unknown service {service!r}; known: {', '.join(self.pools)}") from None

    def build_config(self, service: str, build: str) -> BuildConfig:
        builds = self.topology.services[service].builds if service in self.topology.services else {}
        if build not in builds:
            raise ClusterError(f"unknown build {build!r} of {service}; known: {', '.join(builds) or 'none'}")
        return builds[build]

    def faults_for(self, service: str, build: str) -> FaultSpec:
        base = self.build_config(service, build).fault_spec()
        extra = self.pool(service).faults.get(build)
        return base.merged(extra) if extra is not None else base

    def note(self, message: str) -> None:
        self.events.append((self.clock.now(), message))
        del self.events[:-500]

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for name in self.pools:
            await self.reconcile(name)

    async def aclose(self) -> None:
        """Drain and stop everything."""
        for pool in self.pools.values():
            pool.replicas, pool.canary_replicas, pool.retiring = 0, 0, {}
            await asyncio.gather(*(self.drain_and_stop(i) for i in list(pool.instances)))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.runner.aclose()

    async def tick(self) -> None:
        """One control-loop pass: probes, a scrape when due, controllers, reconcile. Tests call it after
        moving a :class:`ManualClock`; real mode calls it on a timer."""
        now = self.clock.now()
        await self.probe_all()
        await self.monitoring.scrape_due(now, self.scrape_targets())
        for hook in list(self.tick_hooks):
            await hook(now)
        for name in self.pools:
            await self.reconcile(name)

    def scrape_targets(self) -> list[Instance]:
        """What a PodMonitor scrapes: every pod that runs, ready or not, draining too."""
        up = (InstanceState.STARTING, InstanceState.READY, InstanceState.DRAINING)
        return [i for pool in self.pools.values() for i in pool.instances if i.state in up and i.alive()]

    async def settle(self) -> None:
        """Wait for background drains started by reconcile (tests use it)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- instances -------------------------------------------------------------------

    async def start_instance(self, service: str, build: str, *, faults: FaultSpec | None = None) -> Instance:
        """One more instance (``faults`` overrides the build's, for a single odd instance)."""
        self._seq += 1
        inst = await self.runner.start(
            instance_id=f"{service}-{build}-{self._seq}",
            service=service,
            build=build,
            config=self.build_config(service, build),
            faults=faults if faults is not None else self.faults_for(service, build),
        )
        self.pool(service).instances.append(inst)
        self.note(f"started {inst.id}")
        await self.probe(inst)
        return inst

    async def probe(self, inst: Instance, *, periodic: bool = False) -> None:
        """Readiness: a starting (or unready) instance joins the rotation when ``/readyz``
        answers 200; a ready one leaves it after ``UNREADY_AFTER`` failed checks in a row
        (``periodic``: at most one check per ``health_interval_s``). A dead process is crashed."""
        if inst.state in (InstanceState.STOPPED, InstanceState.CRASHED, InstanceState.DRAINING):
            return
        if not inst.alive():
            self._crashed(inst)
            return
        now = self.clock.now()
        if periodic and inst.state is InstanceState.READY:
            if now < inst.next_check_at:
                return
            inst.next_check_at = now + self.topology.gateway.health_interval_s
        ok = await self._ready_check(inst)
        if inst.state is InstanceState.STARTING and ok:
            inst.state, inst.failed_checks = InstanceState.READY, 0
            inst.next_check_at = now + self.topology.gateway.health_interval_s
            self.note(f"ready {inst.id}")
        elif inst.state is InstanceState.READY:
            inst.failed_checks = 0 if ok else inst.failed_checks + 1
            if inst.failed_checks >= UNREADY_AFTER:
                inst.state = InstanceState.STARTING
                self.note(f"unready {inst.id}: {inst.failed_checks} failed readiness checks")

    async def _ready_check(self, inst: Instance) -> bool:
        try:
            resp = await asyncio.wait_for(inst.client.get("/readyz"), PROBE_TIMEOUT_S)
            if resp.status_code == 404:  # an app without a readiness endpoint: health will do
                resp = await asyncio.wait_for(inst.client.get("/healthz"), PROBE_TIMEOUT_S)
        except (httpx.TransportError, TimeoutError):
            return False
        return resp.status_code == 200

    async def probe_all(self) -> None:
        for pool in self.pools.values():
            for inst in list(pool.instances):
                await self.probe(inst, periodic=True)

    def _crashed(self, inst: Instance) -> None:
        if inst.state is not InstanceState.CRASHED:
            inst.state = InstanceState.CRASHED
        self.note(f"crashed {inst.id}")
        self._remove(inst)

    def _remove(self, inst: Instance) -> None:
        pool = self.pool(inst.service)
        if inst in pool.instances:
            pool.instances.remove(inst)
        self._spawn(inst.upstream.aclose())
        self._spawn(inst.client.aclose())

    async def drain_and_stop(self, inst: Instance) -> None:
        """No new requests; in-flight ones finish (up to the drain timeout); then stop."""
        if inst.state in (InstanceState.STOPPED, InstanceState.CRASHED):
            self._remove(inst)
            return
        inst.state = InstanceState.DRAINING
        self.note(f"draining {inst.id} ({inst.in_flight} in flight)")
        try:
            await asyncio.wait_for(inst.idle.wait(), self.topology.gateway.drain_timeout_s)
        except TimeoutError:
            self.note(f"drain timeout {inst.id}: {inst.in_flight} request(s) cut")
        inst.state = InstanceState.STOPPED
        await inst.stop_hook()
        self._remove(inst)
        self.note(f"stopped {inst.id}")

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reconcile(self, service: str) -> None:
        """Start and drain instances until each build has its desired count (one pass at a
        time per cluster: a pass awaits start-ups, and two passes would both start the gap)."""
        if self._reconcile_lock is None:
            self._reconcile_lock = asyncio.Lock()
        async with self._reconcile_lock:
            await self._reconcile(service)

    async def _reconcile(self, service: str) -> None:
        pool = self.pool(service)
        for inst in list(pool.instances):
            if inst.state is InstanceState.CRASHED or (
                inst.state is not InstanceState.STOPPED and not inst.alive()
            ):
                self._crashed(inst)
        want = pool.desired()
        for build in set(want) | {i.build for i in pool.instances}:
            n = want.get(build, 0)
            running = [i for i in pool.of_build(build) if i.running]
            if n > len(running):  # concurrently: a process takes a while to come up
                await asyncio.gather(*(self.start_instance(service, build) for _ in range(n - len(running))))
            if len(running) > n:
                # leave the least busy first; starting ones before ready ones
                victims = sorted(running, key=lambda i: (i.state is InstanceState.READY, i.in_flight))
                for inst in victims[: len(running) - n]:
                    inst.state = InstanceState.DRAINING
                    self._spawn(self.drain_and_stop(inst))
        for build in [b for b, n in pool.retiring.items() if n == 0 and not pool.of_build(b)]:
            del pool.retiring[build]

    # -- scale to zero: the gateway holds a request here ------------------------------

    async def wait_ready(self, service: str, *, timeout_s: float, poll_s: float = 0.02) -> bool:
        """Activate a service scaled to zero and wait until an instance can serve."""
        pool = self.pool(service)
        if pool.replicas == 0 and not any(i.running for i in pool.instances):
            pool.replicas = 1
            self.note(f"activating {service} from zero")
            await self.reconcile(service)
        deadline = time.monotonic() + timeout_s
        while True:
            now = self.clock.now()
            if any(i.eligible(now) for i in pool.instances):
                return True
            for inst in [i for i in pool.instances if i.state is InstanceState.STARTING]:
                await self.probe(inst)
            if any(i.eligible(self.clock.now()) for i in pool.instances):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll_s)

    # -- status ------------------------------------------------------------------------

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        out: list[tuple[str, str, dict[str, str], float]] = []
        for pool in self.pools.values():
            builds = {pool.stable: 100 - pool.weight if pool.canary else 100}
            if pool.canary:
                builds[pool.canary] = pool.weight
            for b, w in builds.items():
                out.append(
                    (
                        "cryptopos_build_weight",
                        "Traffic weight in percent.",
                        {"service": pool.service, "build": b},
                        w,
                    )
                )
        for pool in self.pools.values():
            counts: dict[tuple[str, str], int] = {}
            for i in pool.instances:
                counts[(i.build, i.state.value)] = counts.get((i.build, i.state.value), 0) + 1
            for (b, st), n in sorted(counts.items()):
                labels = {"service": pool.service, "build": b, "state": st}
                out.append(("cryptopos_instances", "Instances by build and state.", labels, n))
        return out

    def canary_count_for(self, pool: Pool, weight: int) -> int:
        """Canary replicas in proportion to its weight (Argo without setCanaryScale)."""
        if weight <= 0:
            return 0
        return max(1, math.ceil(max(pool.replicas, 1) * weight / 100))

"""The rollout controller: walks a plan's steps on each cluster tick, runs the analysis,
promotes or aborts. Argo Rollouts semantics with a traffic router (our gateway):

- ``setWeight: N``: canary replicas scale to ``ceil(replicas * N / 100)``; once they are
  ready, N% of the traffic goes to the canary; stable keeps all its replicas until the end.
- ``pause: {duration}`` waits; ``pause: {}`` waits for :meth:`RolloutController.promote`.
- background analysis from ``startingStep``, its queries answered by the cluster's
  :class:`~backend_stub.monitoring.Monitoring` (the instances' scraped metrics); Failed or
  Error aborts; Inconclusive pauses.
- abort: weight 0 at once, phase Degraded, canary instances stopped after
  ``abortScaleDownDelaySeconds``.
- after the last step: the canary scales to full replicas, becomes stable (100% of traffic),
  and the old build's instances are drained one at a time after ``scaleDownDelaySeconds``.
"""

from __future__ import annotations

import asyncio
import enum
import math
from dataclasses import dataclass, field
from typing import Any

from backend_stub.cluster import Cluster, InstanceState, Pool
from backend_stub.faults import FaultSpec
from backend_stub.monitoring import as_result, describe
from backend_stub.promql import QueryError
from backend_stub.rollout.analysis import AnalysisRun, MeasurementPhase, MetricRun, Result
from backend_stub.rollout.plan import Pause, RolloutPlan, SetWeight

RETIRE_INTERVAL_S = 10.0  # plan seconds between two old instances drained after promotion


class RolloutError(Exception):
    pass


class RolloutPhase(enum.Enum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"


@dataclass
class Rollout:
    service: str
    canary: str
    previous: str
    plan: RolloutPlan
    started_at: float
    step: int = 0
    phase: RolloutPhase = RolloutPhase.PROGRESSING
    message: str = ""
    pause_until: float | None = None
    analysis: AnalysisRun | None = None
    scale_down_at: float | None = None
    retire_at: float | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self, now: float) -> dict[str, Any]:
        measurements = []
        if self.analysis is not None:
            for m in self.analysis.metrics:
                measurements.append(
                    {
                        "metric": m.spec.name,
                        "phase": m.phase.value,
                        "failed": m.failed,
                        "errors": m.errors,
                        "inconclusive": m.inconclusive,
                        "message": m.message,
                        "last": [
                            {"value": describe(x.value), "phase": x.phase.value, "message": x.message}
                            for x in m.measurements[-5:]
                        ],
                    }
                )
        return {
            "service": self.service,
            "canary": self.canary,
            "stable_before": self.previous,
            "phase": self.phase.value,
            "message": self.message,
            "step": self.step,
            "steps": len(self.plan.steps),
            "pause_left_s": None if self.pause_until is None else max(0.0, self.pause_until - now),
            "analysis": measurements,
        }


class RolloutController:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.rollouts: dict[str, Rollout] = {}
        self._lock: asyncio.Lock | None = None
        cluster.tick_hooks.append(self.on_tick)

    @property
    def lock(self) -> asyncio.Lock:
        """Commands and ticks take turns: both await instance start-ups midway through a step."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def scale(self, plan_seconds: float) -> float:
        return self.cluster.topology.scaled(plan_seconds)

    # -- commands (serialized with the ticks) -------------------------------------------

    async def deploy(
        self, service: str, build: str, plan: RolloutPlan, *, faults: FaultSpec | None = None
    ) -> Rollout:
        async with self.lock:
            return await self._deploy(service, build, plan, faults=faults)

    async def promote(self, service: str, *, full: bool = False) -> Rollout:
        async with self.lock:
            return await self._promote(service, full=full)

    async def abort(self, service: str, reason: str = "aborted by user") -> Rollout:
        async with self.lock:
            return await self._abort_cmd(service, reason)

    async def on_tick(self, now: float) -> None:
        async with self.lock:
            await self._on_tick(now)

    # -- implementations ---------------------------------------------------------------

    async def _deploy(
        self, service: str, build: str, plan: RolloutPlan, *, faults: FaultSpec | None = None
    ) -> Rollout:
        pool = self.cluster.pool(service)
        self.cluster.build_config(service, build)  # raises for an unknown build
        current = self.rollouts.get(service)
        if current is not None and current.phase in (RolloutPhase.PROGRESSING, RolloutPhase.PAUSED):
            raise RolloutError(
                f"{service}: a rollout of {current.canary} is in progress; promote or abort it first"
            )
        if build == pool.stable:
            raise RolloutError(f"{service} already runs {build} as stable")
        if pool.canary is not None:  # an aborted canary still scaling down
            pool.canary_replicas, pool.canary, pool.weight = 0, None, 0
        if faults is not None and faults.active:
            pool.faults[build] = faults
        else:
            pool.faults.pop(build, None)
        if plan.replicas is not None and plan.replicas > 0 and pool.replicas == 0:
            pool.replicas = plan.replicas
        now = self.cluster.clock.now()
        ro = Rollout(service=service, canary=build, previous=pool.stable, plan=plan, started_at=now)
        self.rollouts[service] = ro
        pool.canary, pool.weight, pool.canary_replicas = build, 0, 0
        self.cluster.note(f"rollout {service} {pool.stable} -> {build} started ({len(plan.steps)} steps)")
        await self._progress(ro, now)
        return ro

    def get(self, service: str) -> Rollout:
        ro = self.rollouts.get(service)
        if ro is None:
            raise RolloutError(f"no rollout of {service}")
        return ro

    async def _promote(self, service: str, *, full: bool = False) -> Rollout:
        ro = self.get(service)
        if ro.phase not in (RolloutPhase.PROGRESSING, RolloutPhase.PAUSED):
            raise RolloutError(f"{service}: the rollout is {ro.phase.value}; nothing to promote")
        if full:
            ro.step = len(ro.plan.steps)
        elif ro.step < len(ro.plan.steps) and isinstance(ro.plan.steps[ro.step], Pause):
            ro.step += 1
        ro.pause_until = None
        ro.phase, ro.message = RolloutPhase.PROGRESSING, "promoted"
        self.cluster.note(f"rollout {service} promoted{' fully' if full else ''}")
        await self._progress(ro, self.cluster.clock.now())
        return ro

    async def _abort_cmd(self, service: str, reason: str = "aborted by user") -> Rollout:
        ro = self.get(service)
        if ro.phase not in (RolloutPhase.PROGRESSING, RolloutPhase.PAUSED):
            raise RolloutError(f"{service}: the rollout is {ro.phase.value}; nothing to abort")
        self._abort(ro, self.cluster.clock.now(), reason)
        return ro

    # -- the loop --------------------------------------------------------------------

    async def _on_tick(self, now: float) -> None:
        for ro in list(self.rollouts.values()):
            pool = self.cluster.pool(ro.service)
            if ro.phase in (RolloutPhase.PROGRESSING, RolloutPhase.PAUSED):
                self._analyse(ro, pool, now)
            if ro.phase is RolloutPhase.PROGRESSING:
                await self._progress(ro, now)
            if ro.scale_down_at is not None and now >= ro.scale_down_at and pool.canary == ro.canary:
                pool.canary_replicas, pool.canary, pool.weight = 0, None, 0
                pool.retiring[ro.canary] = 0
                ro.scale_down_at = None
                self.cluster.note(f"aborted canary {ro.canary} scaled down")
            if ro.retire_at is not None and now >= ro.retire_at:
                left = pool.retiring.get(ro.previous, 0)
                if left > 0:
                    pool.retiring[ro.previous] = left - 1
                    self.cluster.note(f"retiring one {ro.previous} instance ({left - 1} left)")
                    ro.retire_at = now + self.scale(RETIRE_INTERVAL_S)
                else:
                    ro.retire_at = None

    def _analyse(self, ro: Rollout, pool: Pool, now: float) -> None:
        spec = ro.plan.analysis
        if spec is None:
            return
        if ro.analysis is None:
            if ro.step < spec.starting_step:
                return
            ro.analysis = AnalysisRun.start(spec.metrics, now=now, scale=self.scale)
        for m in ro.analysis.due(now):
            value, error = self.measure(ro, m, now)
            result = m.measure(now, value, error=error)
            ro.analysis.advance(m, now, scale=self.scale)
            self._record(ro, pool, now, m.spec.name, describe(result.value), result.phase.value)
        phase = ro.analysis.phase
        if phase in (MeasurementPhase.FAILED, MeasurementPhase.ERROR):
            failed = [m for m in ro.analysis.metrics if m.phase is phase]
            detail = ", ".join(f"{m.spec.name}: {m.message}" for m in failed)
            self._abort(ro, now, f"analysis {phase.value}: {detail}")
        elif phase is MeasurementPhase.INCONCLUSIVE and ro.phase is RolloutPhase.PROGRESSING:
            ro.phase, ro.message = RolloutPhase.PAUSED, "analysis inconclusive: promote or abort"
            self.cluster.note(f"rollout {ro.service} paused: analysis inconclusive")

    def measure(self, ro: Rollout, m: MetricRun, now: float) -> tuple[Result | None, str]:
        """The metric's query over the scraped metrics: (value, "") or (None, why not)."""
        text = m.spec.query_for(canary=ro.canary, stable=ro.previous)
        try:
            return as_result(self.cluster.monitoring.query(text, now=now)), ""
        except QueryError as exc:
            return None, str(exc)

    def _record(self, ro: Rollout, pool: Pool, now: float, metric: str, value: str, phase: str) -> None:
        first = ro.plan.analysis.metrics[0].interval_s if ro.plan.analysis else None
        window = self.scale(first or 60.0)
        row: dict[str, Any] = {
            "t": round(now - ro.started_at, 3),
            "step": ro.step,
            "weight": pool.weight,
            "metric": metric,
            "value": value,
            "measurement": phase,
        }
        for role, build in (("canary", ro.canary), ("stable", ro.previous)):
            w = self.cluster.metrics.build(ro.service, build).window(now, window)
            row[role] = w.as_json()
        ro.timeline.append(row)

    async def _progress(self, ro: Rollout, now: float) -> None:
        pool = self.cluster.pool(ro.service)
        steps = ro.plan.steps
        while ro.phase is RolloutPhase.PROGRESSING and ro.step < len(steps):
            step = steps[ro.step]
            if isinstance(step, SetWeight):
                pool.canary_replicas = self.cluster.canary_count_for(pool, step.weight)
                await self.cluster.reconcile(ro.service)
                ready = [i for i in pool.of_build(ro.canary) if i.state is InstanceState.READY]
                if len(ready) < pool.canary_replicas:
                    ro.message = f"waiting for {pool.canary_replicas} canary instance(s) to be ready"
                    return
                pool.weight = step.weight
                self.cluster.note(f"rollout {ro.service}: weight {step.weight}% to {ro.canary}")
                ro.step += 1
                ro.message = ""
                continue
            assert isinstance(step, Pause)
            if step.duration_s is None:
                ro.phase, ro.message = RolloutPhase.PAUSED, "paused until promoted"
                self.cluster.note(f"rollout {ro.service} paused at step {ro.step} until promoted")
                return
            if ro.pause_until is None:
                ro.pause_until = now + self.scale(step.duration_s)
            if now < ro.pause_until:
                ro.message = f"pause of {step.duration_s:g} s (plan time)"
                return
            ro.pause_until = None
            ro.step += 1
        if ro.phase is RolloutPhase.PROGRESSING and ro.step >= len(steps):
            await self._finish(ro, pool, now)

    async def _finish(self, ro: Rollout, pool: Pool, now: float) -> None:
        pool.canary_replicas = max(pool.replicas, 1) if pool.replicas else 0
        await self.cluster.reconcile(ro.service)
        ready = [i for i in pool.of_build(ro.canary) if i.state is InstanceState.READY]
        if len(ready) < pool.canary_replicas:
            ro.message = "scaling the canary to full replicas before promotion"
            return
        old = pool.stable
        old_count = len([i for i in pool.of_build(old) if i.running])
        pool.stable, pool.canary, pool.weight, pool.canary_replicas = ro.canary, None, 0, 0
        pool.retiring[old] = old_count
        ro.retire_at = now + self.scale(ro.plan.scale_down_delay_s)
        ro.phase, ro.message = RolloutPhase.HEALTHY, f"{ro.canary} promoted to stable"
        if ro.analysis is not None:  # Argo ends a background run that is still going as Successful
            for m in ro.analysis.metrics:
                if m.phase is MeasurementPhase.RUNNING:
                    m.phase, m.message = MeasurementPhase.SUCCESSFUL, "run terminated: rollout completed"
        self.cluster.note(f"rollout {ro.service}: {ro.canary} is stable; {old} retires gradually")

    def _abort(self, ro: Rollout, now: float, reason: str) -> None:
        pool = self.cluster.pool(ro.service)
        pool.weight = 0
        ro.phase, ro.message = RolloutPhase.DEGRADED, f"RolloutAborted: {reason}"
        ro.pause_until = None
        ro.scale_down_at = now + self.scale(ro.plan.abort_scale_down_delay_s)
        self.cluster.note(f"rollout {ro.service} aborted: {reason}")


def ceil_share(total: int, weight: int) -> int:
    return math.ceil(total * weight / 100)

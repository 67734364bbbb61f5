"""Analysis runs with Argo Rollouts' measurement rules, pure (the caller supplies values).

Per metric, each measurement is Successful, Failed, Inconclusive or Error:

- a value of ``None`` (no data, provider error) is an Error;
- with a ``failureCondition`` met: Failed; else with a ``successCondition``: Successful when
  met, otherwise Failed if there is no ``failureCondition`` and Inconclusive if there is one;
- the metric Fails when failed measurements > ``failureLimit``, Errors when consecutive errors
  > ``consecutiveErrorLimit`` (an Error counts as a failure of the run, as in Argo), and is
  Inconclusive when inconclusive measurements > ``inconclusiveLimit``;
- with ``count``, the metric is Successful after that many measurements.

Conditions are a small expression language: ``result`` (or ``result[0]``) compared with a
number by ``< <= > >= == !=``, joined by ``&&``/``and`` and ``||``/``or``.
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from backend_stub.rollout.plan import MetricSpec, PlanError

_CMP: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_TERM = re.compile(r"^\s*result(?:\[0\])?\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_OR = re.compile(r"\|\||\bor\b")
_AND = re.compile(r"&&|\band\b")


class MeasurementPhase(enum.Enum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    RUNNING = "Running"


def check_condition(expr: str, *, where: str) -> None:
    for alt in _OR.split(expr):
        for term in _AND.split(alt):
            if not _TERM.match(term):
                raise PlanError(
                    f"{where}: cannot read condition {expr!r}; use e.g. 'result >= 0.95' "
                    "(comparisons of result joined by && and ||)"
                )


def evaluate_condition(expr: str, value: float) -> bool:
    def term(t: str) -> bool:
        m = _TERM.match(t)
        if not m:
            raise PlanError(f"cannot read condition {expr!r}")
        return _CMP[m.group(1)](value, float(m.group(2)))

    return any(all(term(t) for t in _AND.split(alt)) for alt in _OR.split(expr))


@dataclass
class Measurement:
    at: float
    value: float | None
    phase: MeasurementPhase


@dataclass
class MetricRun:
    spec: MetricSpec
    measurements: list[Measurement] = field(default_factory=list)
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    phase: MeasurementPhase = MeasurementPhase.RUNNING

    def measure(self, at: float, value: float | None) -> Measurement:
        spec = self.spec
        if value is None:
            phase = MeasurementPhase.ERROR
        elif spec.failure_condition and evaluate_condition(spec.failure_condition, value):
            phase = MeasurementPhase.FAILED
        elif spec.success_condition:
            if evaluate_condition(spec.success_condition, value):
                phase = MeasurementPhase.SUCCESSFUL
            else:
                phase = MeasurementPhase.INCONCLUSIVE if spec.failure_condition else MeasurementPhase.FAILED
        else:
            phase = MeasurementPhase.SUCCESSFUL  # only a failureCondition, and it was not met
        m = Measurement(at, value, phase)
        self.measurements.append(m)
        if phase is MeasurementPhase.ERROR:
            self.errors += 1
            self.consecutive_errors += 1
        else:
            self.consecutive_errors = 0
        if phase is MeasurementPhase.FAILED:
            self.failed += 1
        if phase is MeasurementPhase.INCONCLUSIVE:
            self.inconclusive += 1
        if self.failed > spec.failure_limit:
            self.phase = MeasurementPhase.FAILED
        elif self.consecutive_errors > spec.consecutive_error_limit:
            self.phase = MeasurementPhase.ERROR
        elif self.inconclusive > spec.inconclusive_limit:
            self.phase = MeasurementPhase.INCONCLUSIVE
        elif spec.count is not None and len(self.measurements) >= spec.count:
            self.phase = MeasurementPhase.SUCCESSFUL
        return m


@dataclass
class AnalysisRun:
    """One background analysis: every metric measured on its own interval."""

    metrics: list[MetricRun]
    started_at: float
    next_at: dict[str, float] = field(default_factory=dict)

    @classmethod
    def start(
        cls, specs: tuple[MetricSpec, ...], *, now: float, scale: Callable[[float], float]
    ) -> AnalysisRun:
        run = cls([MetricRun(s) for s in specs], now)
        for s in specs:
            # the first measurement covers a full interval of traffic (Argo measures at once,
            # which with a fresh canary usually means "no data"; initialDelay adds to it)
            run.next_at[s.name] = now + scale(s.initial_delay_s) + scale(s.interval_s)
        return run

    def due(self, now: float) -> list[MetricRun]:
        return [
            m
            for m in self.metrics
            if m.phase is MeasurementPhase.RUNNING and now >= self.next_at[m.spec.name]
        ]

    def advance(self, m: MetricRun, *, scale: Callable[[float], float]) -> None:
        self.next_at[m.spec.name] += scale(m.spec.interval_s)

    @property
    def phase(self) -> MeasurementPhase:
        phases = {m.phase for m in self.metrics}
        for p in (MeasurementPhase.FAILED, MeasurementPhase.ERROR, MeasurementPhase.INCONCLUSIVE):
            if p in phases:
                return p
        if phases == {MeasurementPhase.SUCCESSFUL}:
            return MeasurementPhase.SUCCESSFUL
        return MeasurementPhase.RUNNING

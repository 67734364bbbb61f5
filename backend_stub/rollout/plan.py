"""Rollout plans: the subset of Argo Rollouts' ``Rollout`` and ``AnalysisTemplate`` YAML we run.

Supported (anything else in ``strategy.canary`` is a clear error, not silently ignored):

- ``spec.replicas``; ``spec.strategy.canary.steps`` of ``setWeight: N`` and ``pause: {}`` /
  ``pause: {duration: 30s}`` (``s``/``m``/``h`` suffixes or plain seconds);
- ``spec.strategy.canary.analysis`` (background analysis): ``templates[].templateName``,
  ``startingStep``, ``args[]`` with ``value`` or ``valueFrom.podTemplateHashValue: Latest``
  (here: the canary build's name);
- ``scaleDownDelaySeconds`` (default 30) and ``abortScaleDownDelaySeconds`` (default 30);
- ``AnalysisTemplate.spec.metrics[]``: ``name``, ``interval`` (none: a single measurement),
  ``initialDelay``, ``count``, ``successCondition``, ``failureCondition``, ``failureLimit``
  (default 0; negative: never fails), ``consecutiveErrorLimit`` (default 4),
  ``inconclusiveLimit`` (default 0), and a ``prometheus`` provider whose ``query`` the
  emulator evaluates over the instances' scraped metrics (:mod:`backend_stub.promql`; its
  ``address`` is where a real cluster's Prometheus is, and is not used here). Arguments
  ``{{args.NAME}}`` are substituted in the query; ``valueFrom.podTemplateHashValue: Latest``
  (``Stable``) is the canary (stable) build, which the scraper puts in the
  ``rollouts_pod_template_hash`` label, as the PodMonitor in deploy/k8s does with the hash.

All durations are plan time, ranges in queries included; the cluster divides them by its
``time_scale``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_ARG_REF = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")
CANARY_REF = "{{canary-build}}"  # stands for the canary build until a rollout starts
STABLE_REF = "{{stable-build}}"  # and this for the stable build


class PlanError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SetWeight:
    weight: int


@dataclass(frozen=True, slots=True)
class Pause:
    duration_s: float | None  # None: until promoted


Step = SetWeight | Pause


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    query: str  # PromQL, arguments substituted; CANARY_REF / STABLE_REF stand for the builds
    interval_s: float | None  # None: one measurement
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: int = 0
    consecutive_error_limit: int = 4
    inconclusive_limit: int = 0
    count: int | None = None
    initial_delay_s: float = 0.0

    @property
    def effective_count(self) -> int | None:
        """Argo's: the count, or 1 for a metric without an interval, else unbounded."""
        if self.count is not None:
            return self.count
        return 1 if self.interval_s is None else None

    def query_for(self, *, canary: str, stable: str) -> str:
        return self.query.replace(CANARY_REF, canary).replace(STABLE_REF, stable)


@dataclass(frozen=True, slots=True)
class AnalysisSpec:
    metrics: tuple[MetricSpec, ...]
    starting_step: int = 0


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    name: str
    steps: tuple[Step, ...]
    replicas: int | None = None
    analysis: AnalysisSpec | None = None
    scale_down_delay_s: float = 30.0
    abort_scale_down_delay_s: float = 30.0
    source: str = "<plan>"
    templates: dict[str, Any] = field(default_factory=dict)


def parse_duration(value: Any, *, where: str) -> float:
    if isinstance(value, bool):
        raise PlanError(f"{where}: {value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise PlanError(f"{where}: {value!r} is not a duration (use e.g. 30s, 5m, 1h)")
    n, unit = float(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def load_plan(path: Path) -> RolloutPlan:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read: {exc}") from None
    return parse_plan(text, source=str(path))


def parse_plan(text: str, *, source: str = "<plan>") -> RolloutPlan:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise PlanError(f"{source}: not valid YAML: {exc}") from None
    rollouts = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Rollout"]
    templates = {
        _get(d, "metadata", "name", where=f"{source}: AnalysisTemplate"): d
        for d in docs
        if isinstance(d, dict) and d.get("kind") == "AnalysisTemplate"
    }
    if len(rollouts) != 1:
        raise PlanError(f"{source}: expected exactly one document of kind Rollout, found {len(rollouts)}")
    ro = rollouts[0]
    name = str(_get(ro, "metadata", "name", where=f"{source}: Rollout"))
    where = f"{source}: Rollout {name}"
    spec = _get(ro, "spec", where=where)
    canary = _get(spec, "strategy", "canary", where=f"{where}.spec")
    if not isinstance(canary, dict):
        raise PlanError(f"{where}: spec.strategy.canary must be a mapping")
    supported = {
        "steps",
        "analysis",
        "scaleDownDelaySeconds",
        "abortScaleDownDelaySeconds",
        "canaryService",
        "stableService",
        "trafficRouting",
        "maxSurge",
        "maxUnavailable",
    }
    unknown = sorted(set(canary) - supported)
    if unknown:
        raise PlanError(
            f"{where}: unsupported canary field(s) {', '.join(unknown)}; "
            f"supported: {', '.join(sorted(supported))}"
        )
    steps = tuple(_step(s, where=f"{where}.steps[{i}]") for i, s in enumerate(canary.get("steps") or []))
    if not steps:
        raise PlanError(f"{where}: no steps")
    analysis = None
    if canary.get("analysis") is not None:
        analysis = _analysis(canary["analysis"], templates, where=f"{where}.analysis", n_steps=len(steps))
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
        raise PlanError(f"{where}: spec.replicas must be a non-negative integer")
    return RolloutPlan(
        name=name,
        steps=steps,
        replicas=replicas,
        analysis=analysis,
        scale_down_delay_s=parse_duration(
            canary.get("scaleDownDelaySeconds", 30), where=f"{where}.scaleDownDelaySeconds"
        ),
        abort_scale_down_delay_s=parse_duration(
            canary.get("abortScaleDownDelaySeconds", 30), where=f"{where}.abortScaleDownDelaySeconds"
        ),
        source=source,
        templates=templates,
    )


def _get(d: Any, *keys: str, where: str) -> Any:
    cur = d
    path = []
    for k in keys:
        path.append(k)
        if not isinstance(cur, dict) or k not in cur:
            raise PlanError(f"{where}: missing {'.'.join(path)}")
        cur = cur[k]
    return cur


def _step(s: Any, *, where: str) -> Step:
    if not isinstance(s, dict) or len(s) != 1:
        raise PlanError(f"{where}: a step is one of setWeight or pause")
    ((kind, value),) = s.items()
    if kind == "setWeight":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise PlanError(f"{where}: setWeight must be an integer 0..100, got {value!r}")
        return SetWeight(value)
    if kind == "pause":
        if value is None or value == {}:
            return Pause(None)
        if not isinstance(value, dict) or set(value) != {"duration"}:
            raise PlanError(f"{where}: pause takes {{}} or {{duration: 30s}}")
        return Pause(parse_duration(value["duration"], where=f"{where}.pause.duration"))
    raise PlanError(f"{where}: unsupported step {kind!r}; supported: setWeight, pause")


def _analysis(a: Any, templates: dict[str, Any], *, where: str, n_steps: int) -> AnalysisSpec:
    if not isinstance(a, dict):
        raise PlanError(f"{where}: must be a mapping")
    args: dict[str, str] = {}
    for i, arg in enumerate(a.get("args") or []):
        if not isinstance(arg, dict) or "name" not in arg:
            raise PlanError(f"{where}.args[{i}]: needs a name")
        hash_of = (arg.get("valueFrom") or {}).get("podTemplateHashValue")
        if "value" in arg:
            args[str(arg["name"])] = str(arg["value"])
        elif hash_of in ("Latest", "Stable"):
            args[str(arg["name"])] = CANARY_REF if hash_of == "Latest" else STABLE_REF
        else:
            raise PlanError(
                f"{where}.args[{i}]: use value or valueFrom.podTemplateHashValue: Latest (or Stable)"
            )
    metrics: list[MetricSpec] = []
    for i, ref in enumerate(a.get("templates") or []):
        tname = (ref or {}).get("templateName") if isinstance(ref, dict) else None
        if tname not in templates:
            raise PlanError(f"{where}.templates[{i}]: no AnalysisTemplate named {tname!r} in the file")
        metrics += _template_metrics(templates[tname], args, where=f"AnalysisTemplate {tname}")
    if not metrics:
        raise PlanError(f"{where}: no templates")
    start = a.get("startingStep", 0)
    if not isinstance(start, int) or not 0 <= start <= n_steps:
        raise PlanError(f"{where}: startingStep must be 0..{n_steps}")
    return AnalysisSpec(tuple(metrics), start)


def _template_metrics(t: dict[str, Any], args: dict[str, str], *, where: str) -> list[MetricSpec]:
    from backend_stub.promql import QueryError, parse
    from backend_stub.rollout.analysis import check_condition

    declared = {str(x.get("name")): x.get("value") for x in (_get(t, "spec", where=where).get("args") or [])}
    values = {k: str(v) for k, v in declared.items() if v is not None} | args
    out = []
    for i, m in enumerate(_get(t, "spec", "metrics", where=where)):
        w = f"{where}.metrics[{i}]"
        name = str(_get(m, "name", where=w))
        provider = _get(m, "provider", where=w)
        if not isinstance(provider, dict) or "prometheus" not in provider:
            kinds = ", ".join(sorted(provider)) if isinstance(provider, dict) else repr(provider)
            raise PlanError(
                f"{w}: provider {kinds} is not run here; the emulator runs the prometheus provider "
                "(its query over the instances' scraped metrics)"
            )
        raw = str(_get(provider, "prometheus", "query", where=w))

        def sub(match: re.Match[str], w: str = w) -> str:
            key = match.group(1)
            if key not in values:
                raise PlanError(f"{w}: argument {key!r} has no value")
            return values[key]

        query = _ARG_REF.sub(sub, raw).strip()
        try:
            parse(query.replace(CANARY_REF, "canary").replace(STABLE_REF, "stable"))
        except QueryError as exc:
            raise PlanError(f"{w}: provider.prometheus.query: {exc}") from None
        for key in ("successCondition", "failureCondition"):
            if m.get(key):
                check_condition(str(m[key]), where=f"{w}.{key}")
        count = m.get("count")
        interval = m.get("interval")
        out.append(
            MetricSpec(
                name=name,
                query=query,
                interval_s=None if interval is None else parse_duration(interval, where=f"{w}.interval"),
                success_condition=m.get("successCondition") or None,
                failure_condition=m.get("failureCondition") or None,
                failure_limit=_int(m.get("failureLimit", 0), where=f"{w}.failureLimit", negative=True),
                consecutive_error_limit=_int(
                    m.get("consecutiveErrorLimit", 4), where=f"{w}.consecutiveErrorLimit"
                ),
                inconclusive_limit=_int(m.get("inconclusiveLimit", 0), where=f"{w}.inconclusiveLimit"),
                count=None if count is None else _int(count, where=f"{w}.count"),
                initial_delay_s=parse_duration(m.get("initialDelay", 0), where=f"{w}.initialDelay"),
            )
        )
    return out


def _int(v: Any, *, where: str, negative: bool = False) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or (v < 0 and not negative):
        raise PlanError(f"{where}: must be a{'n' if negative else ' non-negative'} integer, got {v!r}")
    return v

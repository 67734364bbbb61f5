"""The autoscaler: the Kubernetes HPA algorithm on requests per second per instance.

The metric is :func:`scale_query` over the instances' scraped metrics, the query the KEDA
``ScaledObject`` in deploy/k8s gives Prometheus (``metricType: AverageValue``: the sum over
the service, per serving instance, against ``target_rps_per_instance``).

``desired = ceil(current * metric / target)``, no change while ``|metric/target - 1| <= tolerance``
(0.1). Scale-down is stabilized: the highest recommendation of the last
``scale_down_stabilization_s`` wins (default 300 s), so a short dip does not remove
instances. Scale-up is limited per ``scale_up_period_s`` to the larger of
``+scale_up_percent`` and ``+scale_up_pods`` (HPA's default behavior: 100% or 4 pods per
15 s, ``selectPolicy: Max``). Result clamped to ``[min_replicas, max_replicas]``.

Scale to zero (which the HPA itself does not do; Knative and KEDA do): a service with
``min_replicas = 0`` and ``idle_to_zero_s`` set goes to 0 after that long without a request;
the gateway then holds the next request while :meth:`Cluster.wait_ready` brings one back.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from backend_stub.cluster import Cluster
from backend_stub.monitoring import as_result
from backend_stub.topology import AutoscaleConfig


def scale_query(service: str, window_s: float) -> str:
    """Requests per second to every instance of a service over the last ``window_s`` (plan s)."""
    return f'sum(rate(cryptopos_requests_total{{service="{service}"}}[{window_s:g}s]))'


def hpa_desired(current: int, metric: float, target: float, *, tolerance: float = 0.1) -> int:
    """One HPA recommendation (before stabilization, limits and min/max)."""
    if target <= 0:
        raise ValueError("target must be positive")
    if current == 0:
        return 0
    # decimal arithmetic, so that 110/100 sits exactly on a 0.1 tolerance as it reads
    ratio = Decimal(str(metric)) / Decimal(str(target))
    if abs(ratio - 1) <= Decimal(str(tolerance)):
        return current
    return math.ceil(current * ratio)


def scale_up_limit(current: int, *, percent: float, pods: int) -> int:
    """The most replicas one scale-up period allows (selectPolicy: Max)."""
    return max(math.ceil(current * (1 + percent / 100)), current + pods)


@dataclass
class Decision:
    at: float
    current: int
    metric: float
    recommended: int
    desired: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "metric_rps_per_instance": round(self.metric, 3),
            "recommended": self.recommended,
            "desired": self.desired,
            "reason": self.reason,
        }


@dataclass
class ServiceScaler:
    """The stabilization and rate-limit memory of one service."""

    cfg: AutoscaleConfig
    min_replicas: int
    max_replicas: int
    target: float
    history: deque[tuple[float, int]] = field(default_factory=deque)  # (at, recommendation)
    scale_ups: deque[tuple[float, int]] = field(default_factory=deque)  # (at, replicas before)

    def decide(self, *, now: float, current: int, metric: float, scaled: Any) -> Decision:
        if not self.history:  # as the HPA does: the replicas found count as a recommendation
            self.history.append((now, current))
        rec = hpa_desired(current, metric, self.target, tolerance=self.cfg.tolerance)
        rec = min(max(rec, self.min_replicas, 1 if current else 0), self.max_replicas)
        self.history.append((now, rec))
        horizon = max(scaled(self.cfg.scale_down_stabilization_s), scaled(self.cfg.scale_up_stabilization_s))
        while self.history and self.history[0][0] < now - horizon:
            self.history.popleft()
        desired, reason = rec, "within tolerance" if rec == current else "hpa formula"
        if rec < current:
            cutoff = now - scaled(self.cfg.scale_down_stabilization_s)
            down_window = [r for t, r in list(self.history)[:-1] if t > cutoff] + [rec]
            stabilized = max(down_window)
            if stabilized > rec:
                desired, reason = min(stabilized, current), "scale-down stabilization"
        elif rec > current:
            # strictly inside the window, as the HPA's cutoffs are; the newest always counts
            cutoff = now - scaled(self.cfg.scale_up_stabilization_s)
            up_window = [r for t, r in list(self.history)[:-1] if t > cutoff] + [rec]
            stabilized = min(up_window)
            desired = max(stabilized, current)
            period = scaled(self.cfg.scale_up_period_s)
            while self.scale_ups and self.scale_ups[0][0] < now - period:
                self.scale_ups.popleft()
            base = self.scale_ups[0][1] if self.scale_ups else current
            limit = scale_up_limit(base, percent=self.cfg.scale_up_percent, pods=self.cfg.scale_up_pods)
            if desired > limit:
                desired, reason = limit, "scale-up limit"
            if desired > current:
                self.scale_ups.append((now, current))
        return Decision(now, current, metric, rec, min(max(desired, 0), self.max_replicas), reason)


class Autoscaler:
    """Runs every ``interval_s`` (plan time) as a cluster tick hook."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.cfg = cluster.topology.autoscale
        self.scalers = {
            name: ServiceScaler(self.cfg, svc.min_replicas, svc.max_replicas, svc.target_rps_per_instance)
            for name, svc in cluster.topology.services.items()
        }
        self.decisions: dict[str, Decision] = {}
        self._next_at: float | None = None
        cluster.tick_hooks.append(self.on_tick)

    async def on_tick(self, now: float) -> None:
        scaled = self.cluster.topology.scaled
        if self._next_at is None:
            self._next_at = now + scaled(self.cfg.interval_s)
            return
        if now < self._next_at:
            return
        self._next_at = now + scaled(self.cfg.interval_s)
        for name in self.scalers:
            self.evaluate(name, now)

    def evaluate(self, service: str, now: float) -> Decision:
        cluster = self.cluster
        pool = cluster.pool(service)
        svc = cluster.topology.services[service]
        scaled = cluster.topology.scaled
        current = pool.replicas
        serving = max(1, len(pool.ready()))
        # no series yet (nothing scraped twice) reads as no load, as KEDA reads an empty result
        found = as_result(cluster.monitoring.query(scale_query(service, self.cfg.window_s), now=now))
        rps = found if isinstance(found, float) else math.fsum(found)
        metric = rps / serving
        idle_for = now - (pool.last_request_at if pool.last_request_at is not None else now)
        if svc.idle_to_zero_s and current > 0 and idle_for >= scaled(svc.idle_to_zero_s) and rps == 0:
            d = Decision(now, current, 0.0, 0, 0, f"idle for {svc.idle_to_zero_s:g} s (plan): scale to zero")
        elif current == 0:
            d = Decision(now, 0, metric, 0, 0, "scaled to zero; the next request activates")
        else:
            d = self.scalers[service].decide(now=now, current=current, metric=metric, scaled=scaled)
        if d.desired != current:
            cluster.note(
                f"autoscale {service}: {current} -> {d.desired} ({d.reason}, {metric:.1f} rps/instance)"
            )
            pool.replicas = d.desired
        self.decisions[service] = d
        return d

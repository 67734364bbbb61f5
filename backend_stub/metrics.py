"""Per-build request metrics recorded by the gateway, and their Prometheus text exposition.

Every upstream attempt is recorded against the build of the instance that served it, so a
canary's own failures show in its success rate even when a retry hid them from the client.
Windowed figures (rate, success rate, p50, p99 over the last N seconds of the cluster clock)
feed the rollout analysis and the autoscaler; cumulative counters and a latency histogram
are what ``/metrics`` exposes.

The exposition is written by hand (about 40 lines) rather than with prometheus_client,
because the windowed views the controllers need are not something its registry keeps, and a
second copy of every sample would be needed anyway.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_SAMPLES = 200_000  # per build; older samples fall off (windows are short)


@dataclass(frozen=True, slots=True)
class Window:
    """Figures over one time window; ``None`` where there were no requests."""

    requests: int
    failures: int
    rate_per_s: float
    success_rate: float | None
    p50_ms: float | None
    p99_ms: float | None

    def as_json(self) -> dict[str, float | int | None]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "rate_per_s": round(self.rate_per_s, 3),
            "success_rate": None if self.success_rate is None else round(self.success_rate, 5),
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 3),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 3),
        }


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def is_failure(status: int) -> bool:
    """A 5xx (or a transport error, recorded as 502/504) counts against success; 4xx do not."""
    return status >= 500


@dataclass
class BuildMetrics:
    service: str
    build: str
    samples: deque[tuple[float, int, float]] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    by_code: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_S))
    count: int = 0
    sum_s: float = 0.0

    def record(self, at: float, status: int, latency_s: float) -> None:
        self.samples.append((at, status, latency_s))
        code = f"{status // 100}xx"
        self.by_code[code] = self.by_code.get(code, 0) + 1
        i = bisect.bisect_left(BUCKETS_S, latency_s)
        for j in range(i, len(BUCKETS_S)):
            self.buckets[j] += 1
        self.count += 1
        self.sum_s += latency_s

    def window(self, now: float, seconds: float) -> Window:
        since = now - seconds
        statuses: list[int] = []
        latencies: list[float] = []
        for at, status, lat in reversed(self.samples):
            if at < since:
                break
            if at <= now:
                statuses.append(status)
                latencies.append(lat * 1000)
        n = len(statuses)
        if n == 0:
            return Window(0, 0, 0.0, None, None, None)
        failures = sum(1 for s in statuses if is_failure(s))
        latencies.sort()
        return Window(
            n,
            failures,
            n / seconds if seconds > 0 else 0.0,
            (n - failures) / n,
            percentile(latencies, 50),
            percentile(latencies, 99),
        )

    def count_since(self, since: float, now: float) -> int:
        n = 0
        for at, _, _ in reversed(self.samples):
            if at < since:
                break
            if at <= now:
                n += 1
        return n

    def last_request_at(self) -> float | None:
        return self.samples[-1][0] if self.samples else None


class MetricsRegistry:
    """All builds' metrics of one gateway."""

    def __init__(self) -> None:
        self.builds: dict[tuple[str, str], BuildMetrics] = {}

    def build(self, service: str, build: str) -> BuildMetrics:
        key = (service, build)
        found = self.builds.get(key)
        if found is None:
            found = self.builds[key] = BuildMetrics(service, build)
        return found

    def record(self, service: str, build: str, at: float, status: int, latency_s: float) -> None:
        self.build(service, build).record(at, status, latency_s)

    def service_rate(self, service: str, now: float, seconds: float) -> float:
        """Requests per second to all builds of a service (what the autoscaler looks at)."""
        if seconds <= 0:
            return 0.0
        total = 0
        for (svc, _), bm in self.builds.items():
            if svc == service:
                total += bm.count_since(now - seconds, now)
        return total / seconds


def _labels(**kv: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in kv.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def prometheus_text(
    registry: MetricsRegistry,
    *,
    now: float,
    window_s: float,
    gauges: Iterable[tuple[str, str, dict[str, str], float]] = (),
) -> str:
    """Prometheus text format 0.0.4. ``gauges``: (name, help, labels, value) from the cluster."""
    out: list[str] = []
    builds = sorted(registry.builds.values(), key=lambda b: (b.service, b.build))
    out += [
        "# HELP cryptopos_requests_total Upstream attempts by service, build and status class.",
        "# TYPE cryptopos_requests_total counter",
    ]
    for b in builds:
        for code, n in sorted(b.by_code.items()):
            out.append(f"cryptopos_requests_total{_labels(service=b.service, build=b.build, code=code)} {n}")
    out += [
        "# HELP cryptopos_request_duration_seconds Upstream attempt latency.",
        "# TYPE cryptopos_request_duration_seconds histogram",
    ]
    for b in builds:
        for le, n in zip(BUCKETS_S, b.buckets, strict=True):
            lab = _labels(service=b.service, build=b.build, le=_num(le))
            out.append(f"cryptopos_request_duration_seconds_bucket{lab} {n}")
        lab = _labels(service=b.service, build=b.build, le="+Inf")
        out.append(f"cryptopos_request_duration_seconds_bucket{lab} {b.count}")
        base = _labels(service=b.service, build=b.build)
        out.append(f"cryptopos_request_duration_seconds_sum{base} {_num(b.sum_s)}")
        out.append(f"cryptopos_request_duration_seconds_count{base} {b.count}")
    windowed = (
        ("cryptopos_build_request_rate", "Requests per second over the last window.", "rate_per_s"),
        ("cryptopos_build_success_rate", "Share of non-5xx answers over the last window.", "success_rate"),
        ("cryptopos_build_latency_p50_seconds", "Median latency over the last window.", "p50_ms"),
        ("cryptopos_build_latency_p99_seconds", "99th percentile latency over the last window.", "p99_ms"),
    )
    windows = {(b.service, b.build): b.window(now, window_s) for b in builds}
    for name, help_text, attr in windowed:
        out += [f"# HELP {name} {help_text} (window {window_s:g} s)", f"# TYPE {name} gauge"]
        for (svc, build), w in windows.items():
            value = getattr(w, attr)
            if value is None:
                value = math.nan
            elif attr.endswith("_ms"):
                value = value / 1000
            out.append(f"{name}{_labels(service=svc, build=build)} {_num(value)}")
    seen: set[str] = set()
    for name, help_text, labels, value in gauges:
        if name not in seen:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            seen.add(name)
        out.append(f"{name}{_labels(**labels)} {_num(value)}")
    return "\n".join(out) + "\n"

"""Request metrics: what every service instance exports, and the gateway's own view.

Every instance (``instrument()``, wrapped around the app outside the fault injection, so a
build's injected errors and delays count as its own) exports, with prometheus_client, at
``GET /metrics``:

- ``cryptopos_requests_total{service, build, code}``: answered requests; ``code`` is the
  status class ``2xx`` .. ``5xx`` (every class is created at 0 when the instance starts, so a
  ``rate()`` over an idle instance is 0 and a ratio of two is NaN, not an absent series);
- ``cryptopos_request_duration_seconds{service, build}``: a histogram of the time to answer.

Probes (``/healthz``, ``/readyz``) and ``/metrics`` itself are not counted. The canary
analyses, the autoscaler (here and in deploy/k8s) and ``backend status`` read these names;
Prometheus adds the target labels ``pod`` and ``rollouts_pod_template_hash`` when it scrapes
(the emulator's scraper does the same, see :mod:`backend_stub.monitoring`). Where uvicorn runs
several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set), prometheus_client's multiprocess
mode keeps each worker's samples in that directory and ``/metrics`` sums them.

The gateway keeps its own per-attempt records (``cryptopos_gateway_*``): the load balancer's
view, with the windows ``backend status`` shows. Its exposition is written by hand (about 40
lines) because the windowed views are not something prometheus_client's registry keeps;
``tests/platform/test_metrics.py`` parses it with prometheus_client's parser.
"""

from __future__ import annotations

import bisect
import math
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.faults import InstanceCrashedError

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
        "# HELP cryptopos_gateway_requests_total Upstream attempts by service, build and status class.",
        "# TYPE cryptopos_gateway_requests_total counter",
    ]
    for b in builds:
        for code, n in sorted(b.by_code.items()):
            out.append(
                f"cryptopos_gateway_requests_total{_labels(service=b.service, build=b.build, code=code)} {n}"
            )
    out += [
        "# HELP cryptopos_gateway_request_duration_seconds Upstream attempt latency.",
        "# TYPE cryptopos_gateway_request_duration_seconds histogram",
    ]
    for b in builds:
        for le, n in zip(BUCKETS_S, b.buckets, strict=True):
            lab = _labels(service=b.service, build=b.build, le=_num(le))
            out.append(f"cryptopos_gateway_request_duration_seconds_bucket{lab} {n}")
        lab = _labels(service=b.service, build=b.build, le="+Inf")
        out.append(f"cryptopos_gateway_request_duration_seconds_bucket{lab} {b.count}")
        base = _labels(service=b.service, build=b.build)
        out.append(f"cryptopos_gateway_request_duration_seconds_sum{base} {_num(b.sum_s)}")
        out.append(f"cryptopos_gateway_request_duration_seconds_count{base} {b.count}")
    windowed = (
        ("cryptopos_gateway_request_rate", "Requests per second over the last window.", "rate_per_s"),
        ("cryptopos_gateway_success_rate", "Share of non-5xx answers over the last window.", "success_rate"),
        ("cryptopos_gateway_latency_p50_seconds", "Median latency over the last window.", "p50_ms"),
        ("cryptopos_gateway_latency_p99_seconds", "99th percentile latency over the last window.", "p99_ms"),
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


# -- what every instance exports ----------------------------------------------------------

REQUESTS = "cryptopos_requests"  # prometheus_client adds _total
DURATION = "cryptopos_request_duration_seconds"
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
UNCOUNTED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def code_class(status: int) -> str:
    return f"{min(max(status // 100, 1), 5)}xx"


class InstanceMetrics:
    """One instance's counters, in a registry of its own (in-process instances share a
    Python process; each must export only its own samples)."""

    def __init__(self, *, service: str, build: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            REQUESTS,
            "Requests answered by this instance, by status class.",
            ("service", "build", "code"),
            registry=self.registry,
        )
        self.duration = Histogram(
            DURATION,
            "Time to answer a request.",
            ("service", "build"),
            buckets=BUCKETS_S,
            registry=self.registry,
        )
        self._by_code = {c: self.requests.labels(service, build, c) for c in CODE_CLASSES}
        self._duration = self.duration.labels(service, build)

    def observe(self, status: int, seconds: float) -> None:
        self._by_code[code_class(status)].inc()
        self._duration.observe(seconds)

    def exposition(self) -> bytes:
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            # every worker writes its own files; one collector sums them for whichever
            # worker answers the scrape
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every request except probes; answers ``GET /metrics``."""

    def __init__(self, app: ASGIApp, metrics: InstanceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/metrics" and scope["method"] in ("GET", "HEAD"):
            body = self.metrics.exposition()
            headers = [
                (b"content-type", CONTENT_TYPE_LATEST.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})
            return
        if path in UNCOUNTED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, recording)
        except InstanceCrashedError:
            raise  # the in-process twin of a dead process: it records nothing
        except Exception:
            # what an app server answers for an app that raised
            self.metrics.observe(status[0] if status else 500, time.perf_counter() - started)
            raise
        self.metrics.observe(status[0] if status else 500, time.perf_counter() - started)


def instrument(app: ASGIApp, *, service: str, build: str) -> MetricsMiddleware:
    """``app`` with this instance's request metrics and ``GET /metrics``."""
    return MetricsMiddleware(app, InstanceMetrics(service=service, build=build))

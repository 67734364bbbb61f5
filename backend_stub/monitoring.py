"""The emulator's Prometheus: scrapes every instance's ``/metrics`` on the PodMonitor's
interval, keeps the samples, and answers the PromQL subset of :mod:`backend_stub.promql`.

The canary analyses and the autoscaler query it with the same queries deploy/k8s gives
Prometheus, so a plan means the same thing in both worlds. Each scraped sample gets the
target labels the PodMonitor in deploy/k8s adds: ``pod`` (the instance id) and
``rollouts_pod_template_hash`` (the build: the emulator's stand-in for the hash Argo Rollouts
gives each ReplicaSet, and what ``podTemplateHashValue: Latest`` resolves to here). A scraped
label of the same name is kept as ``exported_<name>``, as Prometheus does without
``honor_labels``. Samples are timestamped with the cluster clock at the scrape, and kept for
``RETENTION_PLAN_S`` of plan time.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from backend_stub.promql import Labels, Sample, Value, query

SCRAPE_TIMEOUT_S = 2.0  # real seconds
RETENTION_PLAN_S = 1800.0  # the longest range a query may look back over, plan seconds
TARGET_LABELS = ("pod", "rollouts_pod_template_hash")


class Target(Protocol):
    """What the scraper needs of an instance."""

    id: str
    build: str

    @property
    def client(self) -> httpx.AsyncClient: ...


class SampleStore:
    """Series by metric name; each a deque of (clock time, value)."""

    def __init__(self) -> None:
        self._by_name: dict[str, dict[Labels, deque[Sample]]] = {}

    def add(self, name: str, labels: Labels, at: float, value: float) -> None:
        self._by_name.setdefault(name, {}).setdefault(labels, deque()).append((at, value))

    def series(self, name: str) -> Iterator[tuple[Labels, Sequence[Sample]]]:
        yield from self._by_name.get(name, {}).items()

    def prune(self, before: float) -> None:
        for name in list(self._by_name):
            series = self._by_name[name]
            for labels in list(series):
                samples = series[labels]
                while samples and samples[0][0] < before:
                    samples.popleft()
                if not samples:
                    del series[labels]
            if not series:
                del self._by_name[name]


def parse_exposition(text: str, *, target: dict[str, str]) -> Iterator[tuple[str, Labels, float]]:
    """(sample name, labels with ``__name__`` and the target labels, value) of an exposition."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.endswith("_created"):  # creation times, not samples a query here reads
                continue
            labels = dict(s.labels)
            for key, value in target.items():
                if key in labels:
                    labels[f"exported_{key}"] = labels.pop(key)
                labels[key] = value
            labels["__name__"] = s.name
            yield s.name, tuple(sorted(labels.items())), float(s.value)


class Monitoring:
    """Scrapes on an interval (plan seconds) and answers queries at the clock's time."""

    def __init__(self, *, scrape_interval_s: float, scale: Callable[[float], float]) -> None:
        self.scrape_interval_s = scrape_interval_s
        self.scale = scale
        self.store = SampleStore()
        self.scrapes = 0
        self.failed_scrapes = 0
        self._next_at: float | None = None

    async def scrape_due(self, now: float, targets: Iterable[Target]) -> bool:
        """Scrape every target if an interval has passed since the last scrape."""
        if self._next_at is not None and now < self._next_at:
            return False
        self._next_at = now + self.scale(self.scrape_interval_s)
        await self.scrape(now, list(targets))
        return True

    async def scrape(self, now: float, targets: Sequence[Target]) -> None:
        texts = await asyncio.gather(*(self._fetch(t) for t in targets))
        for t, text in zip(targets, texts, strict=True):
            self.scrapes += 1
            if text is None:
                self.failed_scrapes += 1
                continue
            target = {"pod": t.id, "rollouts_pod_template_hash": t.build}
            try:
                for name, labels, value in parse_exposition(text, target=target):
                    self.store.add(name, labels, now, value)
            except ValueError:
                self.failed_scrapes += 1  # not an exposition: Prometheus marks the scrape failed
        self.store.prune(now - self.scale(RETENTION_PLAN_S))

    @staticmethod
    async def _fetch(t: Target) -> str | None:
        try:
            resp = await asyncio.wait_for(t.client.get("/metrics"), SCRAPE_TIMEOUT_S)
        except (httpx.TransportError, TimeoutError):
            return None
        return resp.text if resp.status_code == 200 else None

    def query(self, text: str, *, now: float) -> Value:
        return query(text, self.store, now=now, scale=self.scale)


def as_result(value: Value) -> float | list[float]:
    """What Argo's Prometheus provider hands a condition: a scalar, or the vector's values."""
    if isinstance(value, float):
        return value
    return [v for _, v in value]


def describe(value: float | list[float] | None) -> str:
    """A measurement's value as Argo shows it: ``[0.98]``, ``[]``, ``NaN``."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + ",".join(_num(v) for v in value) + "]"
    return _num(value)


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.6g}"

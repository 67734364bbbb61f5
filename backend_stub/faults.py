"""Fault injection per build: an ASGI middleware wrapped around every instance of a build.

A build's faults come from ``config/backend.toml`` or ``cryptopos backend deploy --fault``.
Deterministic by default: an error rate of 0.2 fails exactly every fifth request of an
instance, so a test knows what the analysis will see; with ``seed`` set the same rate is
drawn from a seeded random generator instead (bursty, still reproducible).

Faults apply to API requests only; ``/healthz`` and ``/readyz`` stay truthful, except that
a slow-starting instance answers ``/readyz`` with 503 until its start-up time has passed.

Errors::

    FaultError (ValueError)          a fault spec that cannot be parsed or is out of range
    InstanceCrashedError (Exception) raised by an in-process instance that "crashes"
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class FaultError(ValueError):
    pass


class InstanceCrashedError(Exception):
    """An in-process instance died: its transport turns this into a connection reset."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    error_rate: float = 0.0  # share of API requests answered with ``error_status``
    error_status: int = 503
    latency_ms: float = 0.0  # added to every API request
    hang: bool = False  # API requests never answer (the gateway's per-try timeout ends them)
    crash_on: int = 0  # the instance dies on its Nth API request (0 = never)
    slow_start_s: float = 0.0  # not ready for this long after start
    seed: int | None = None  # None: evenly spaced errors; an int: seeded random draws

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.error_rate <= 1.0:
            problems.append(f"error_rate must be within 0..1, got {self.error_rate}")
        if not 500 <= self.error_status <= 599:
            problems.append(f"error_status must be a 5xx code, got {self.error_status}")
        if self.latency_ms < 0 or self.slow_start_s < 0 or self.crash_on < 0:
            problems.append("latency_ms, slow_start_s and crash_on must not be negative")
        if problems:
            raise FaultError("; ".join(problems))

    @property
    def active(self) -> bool:
        return self != FaultSpec()

    @classmethod
    def parse(cls, texts: str | list[str]) -> FaultSpec:
        """``"error_rate=0.2,latency_ms=30"``; several texts are merged in order."""
        items = [texts] if isinstance(texts, str) else texts
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for text in items:
            for part in filter(None, (p.strip() for p in text.split(","))):
                name, sep, raw = part.partition("=")
                name = name.strip().replace("-", "_")
                if name not in known:
                    raise FaultError(f"unknown fault {name!r}; known: {', '.join(known)}")
                if name == "hang" and not sep:
                    raw = "true"
                elif not sep:
                    raise FaultError(f"fault {name!r} needs a value, e.g. {name}=1")
                values[name] = _convert(name, raw.strip())
        return cls(**values)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> FaultSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls.parse([f"{k}={json.dumps(v) if isinstance(v, bool) else v}" for k, v in data.items()])

    def merged(self, other: FaultSpec) -> FaultSpec:
        """``other``'s non-default values win."""
        default = FaultSpec()
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(self)
            if getattr(other, f.name) != getattr(default, f.name)
        }
        return replace(self, **changes)

    def describe(self) -> str:
        default = FaultSpec()
        parts = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ",".join(parts) or "none"


def _convert(name: str, raw: str) -> Any:
    try:
        if name == "hang":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if name in ("error_status", "crash_on"):
            return int(raw)
        if name == "seed":
            return None if raw.lower() in ("", "none") else int(raw)
        return float(raw)
    except ValueError:
        raise FaultError(f"fault {name}: {raw!r} is not a valid value") from None


class FaultInjector:
    """The per-instance decision logic, pure apart from its counters (tested without ASGI)."""

    def __init__(self, spec: FaultSpec, *, started_at: float) -> None:
        self.spec = spec
        self.started_at = started_at
        self.requests = 0
        self._rate = Decimal(str(spec.error_rate))
        self._rng = random.Random(spec.seed) if spec.seed is not None else None  # noqa: S311 - test faults

    def ready(self, now: float) -> bool:
        return now >= self.started_at + self.spec.slow_start_s

    def next_request(self) -> tuple[bool, bool]:
        """Count one API request; answer (crash, fail)."""
        self.requests += 1
        n = self.requests
        crash = self.spec.crash_on > 0 and n >= self.spec.crash_on
        if self._rng is not None:
            fail = self._rng.random() < self.spec.error_rate
        else:
            # evenly spaced: request n fails when floor(n*rate) steps up
            fail = int(n * self._rate) > int((n - 1) * self._rate)
        return crash, fail


class FaultMiddleware:
    """ASGI middleware applying a :class:`FaultSpec` to one instance."""

    def __init__(
        self,
        app: ASGIApp,
        spec: FaultSpec,
        *,
        clock: Callable[[], float],
        on_crash: Callable[[], None],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.clock = clock
        self.injector = FaultInjector(spec, started_at=clock())
        self.on_crash = on_crash
        self.sleep = sleep

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        spec = self.injector.spec
        if path == "/readyz" and not self.injector.ready(self.clock()):
            await _send_problem(send, 503, "starting", "Instance is starting")
            return
        if path in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        crash, fail = self.injector.next_request()
        if crash:
            self.on_crash()
            raise InstanceCrashedError(f"instance crashed on request {self.injector.requests}")
        if spec.hang:
            await asyncio.Event().wait()  # until the caller gives up and cancels us
        if spec.latency_ms:
            await self.sleep(spec.latency_ms / 1000)
        if fail:
            await _send_problem(send, spec.error_status, "injected-fault", "Injected fault")
            return
        await self.app(scope, receive, send)


async def _send_problem(send: Send, status: int, slug: str, title: str) -> None:
    body = json.dumps(
        {"type": f"https://cryptopos.dev/problems/{slug}", "title": title, "status": status}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

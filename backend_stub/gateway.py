"""The gateway (load balancer): routes ``/SERVICE/vN/...`` to an instance of the right pool.

- Weighted split between a pool's stable and canary builds (seeded, so runs repeat).
- Within a build, the less busy of two random ready instances (power of two choices).
- Retries to a *different* instance on connect failure, reset, per-try timeout or 503,
  within ``max_retries`` and a retry budget (retries may be at most ``retry_budget_ratio``
  of recent requests plus ``retry_budget_min``), never on a plain 500. A request that is not
  idempotent (a POST without ``Idempotency-Key``) is retried only after a connect failure,
  when it cannot have reached the service; with a key, the shared store dedupes the retry.
- Ejects an instance after ``eject_after`` consecutive failures for ``eject_s``, never more
  than ``max_ejected_share`` of a pool.
- A service scaled to zero: the request is held until an instance is ready, not failed.
- Records every attempt per build (see :mod:`backend_stub.metrics`); ``GET /metrics``.

Answers of its own are RFC 9457 problem documents: ``no-route`` (404), ``version-not-deployed``
(404), ``no-instance`` (503, after the hold timeout), ``upstream-unavailable`` (502),
``upstream-timeout`` (504).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from backend_stub.cluster import Cluster, Instance, Pool
from backend_stub.metrics import prometheus_text

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        # set by the gateway itself
        "x-cp-instance",
        "x-cp-build",
        "x-cp-attempts",
    }
)
_VERSION = re.compile(r"^v[0-9]+$")
METRICS_WINDOW_S = 10.0  # real seconds of the windowed gauges at /metrics
CUT = -1  # a status of our own: the upstream's answer broke off, so ours does too


class _CutError(Exception):
    """An upstream answer that started and broke off."""


class RetryBudget:
    """Retries allowed: ``min_retries + ratio * requests`` over a sliding window."""

    def __init__(self, *, ratio: float, min_retries: int, window_s: float = 10.0) -> None:
        self.ratio, self.min_retries, self.window_s = ratio, min_retries, window_s
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _prune(self, now: float) -> None:
        for q in (self._requests, self._retries):
            while q and q[0] < now - self.window_s:
                q.popleft()

    def record_request(self, now: float) -> None:
        self._requests.append(now)

    def try_spend(self, now: float) -> bool:
        self._prune(now)
        if len(self._retries) < self.min_retries + self.ratio * len(self._requests):
            self._retries.append(now)
            return True
        return False


@dataclass(frozen=True, slots=True)
class Attempt:
    instance: Instance
    response: httpx.Response | None
    error: str | None  # connect | reset | timeout


def problem(
    status: int, slug: str, title: str, detail: str = "", **extra: Any
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    doc: dict[str, Any] = {"type": f"https://cryptopos.dev/problems/{slug}", "title": title, "status": status}
    if detail:
        doc["detail"] = detail
    doc.update(extra)
    return status, json.dumps(doc).encode(), [(b"content-type", b"application/problem+json")]


class Gateway:
    """An ASGI app in front of a :class:`Cluster`."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        auto_tick_s: float | None = None,
        control: ASGIApp | None = None,
    ) -> None:
        self.cluster = cluster
        cfg = cluster.topology.gateway
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)  # noqa: S311 - load balancing, not security
        self.budget = RetryBudget(ratio=cfg.retry_budget_ratio, min_retries=cfg.retry_budget_min)
        self.auto_tick_s = auto_tick_s
        self.control = control
        self._last_tick = -1e18
        self._tick_task: asyncio.Task[None] | None = None
        self.retries = 0
        self.budget_exhausted = 0
        self._abandoned: set[asyncio.Future[httpx.Response]] = set()
        self.notices: Callable[[], list[str]] = list  # set by the deployment: running rollouts

    async def aclose(self) -> None:
        """Stop waiting for answers given up on (a hung instance never sends one)."""
        for task in list(self._abandoned):
            task.cancel()
        if self._abandoned:
            await asyncio.gather(*self._abandoned, return_exceptions=True)

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await self.cluster.start()
        self._maybe_tick()
        path: str = scope["path"]
        if path == "/healthz":
            await _respond(send, 200, b'{"status":"ok"}', [(b"content-type", b"application/json")])
            return
        if path == "/metrics":
            text = prometheus_text(
                self.cluster.metrics,
                now=self.cluster.clock.now(),
                window_s=METRICS_WINDOW_S,
                gauges=self.cluster.gauges(),
            )
            await _respond(send, 200, text.encode(), [(b"content-type", b"text/plain; version=0.0.4")])
            return
        if path.startswith("/_platform/"):
            if self.control is None:
                await _respond(send, *problem(404, "no-route", "No such route", path))
            else:
                await self.control(scope, receive, send)
            return
        body = await _read_body(receive)
        if path == "/discovery" and scope["method"] == "GET":
            status, content, headers = await self.discovery()
            await _respond(send, status, content, headers)
            return
        status, content, headers = await self.forward(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b""),
            headers=[(k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in HOP_BY_HOP],
            body=body,
        )
        if status == CUT:
            # pass the lost answer on: headers promising a body that never comes
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*headers, (b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            return
        await _respond(send, status, content, headers)

    def _maybe_tick(self) -> None:
        """Real-clock modes without a timer (the embedded backend) tick on traffic."""
        if self.auto_tick_s is None:
            return
        now = self.cluster.clock.now()
        if now - self._last_tick < self.auto_tick_s or (self._tick_task and not self._tick_task.done()):
            return
        self._last_tick = now
        self._tick_task = asyncio.ensure_future(self.cluster.tick())

    # -- routing ---------------------------------------------------------------------

    def route(self, path: str) -> tuple[str, str | None] | None:
        parts = path.strip("/").split("/")
        if parts and parts[0] in self.cluster.pools:
            if len(parts) >= 2 and _VERSION.match(parts[1]):
                return parts[0], parts[1]
            return parts[0], None
        return None

    def serves(self, pool: Pool, build: str, version: str | None) -> bool:
        if version is None:
            return True
        return version in self.cluster.build_config(pool.service, build).api_versions

    def pick(self, pool: Pool, version: str | None, exclude: set[str]) -> Instance | None:
        now = self.cluster.clock.now()
        order = [pool.stable]
        if pool.canary is not None and pool.weight > 0:
            to_canary = self.rng.random() * 100 < pool.weight
            order = [pool.canary, pool.stable] if to_canary else [pool.stable, pool.canary]
        # old builds still being retired serve only when nothing else can
        order += [b for b in pool.retiring if b not in order]
        for build in order:
            if not self.serves(pool, build, version):
                continue
            candidates = [
                i for i in pool.instances if i.build == build and i.eligible(now) and i.id not in exclude
            ]
            if not candidates:
                continue
            if len(candidates) == 1:
                return candidates[0]
            a, b = self.rng.sample(candidates, 2)
            return a if a.in_flight <= b.in_flight else b
        return None

    def _version_deployed(self, pool: Pool, version: str | None) -> bool:
        builds = [pool.stable, *([pool.canary] if pool.canary else []), *pool.retiring]
        return any(self.serves(pool, b, version) for b in builds)

    async def discovery(self) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """Every service's own discovery document, merged, plus the platform's notices."""
        merged: dict[str, Any] = {"services": {}, "notices": []}
        for service in self.cluster.pools:
            status, content, _ = await self.forward(
                method="GET", path="/discovery", query=b"", headers=[], body=b"", service=service
            )
            try:
                doc = json.loads(content) if status == 200 else None
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                merged["notices"].append(f"{service}: discovery unavailable (HTTP {status})")
                continue
            merged["services"].update(doc.get("services", {}))
            merged["notices"] += [n for n in doc.get("notices", []) if n not in merged["notices"]]
        merged["notices"] += self.notices()
        return 200, json.dumps(merged).encode(), [(b"content-type", b"application/json")]

    # -- forwarding ------------------------------------------------------------------

    async def forward(
        self,
        *,
        method: str,
        path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        service: str | None = None,
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        found = (service, None) if service is not None else self.route(path)
        if found is None:
            return problem(
                404, "no-route", "No service at this path", f"known services: {', '.join(self.cluster.pools)}"
            )
        service, version = found
        pool = self.cluster.pool(service)
        if not self._version_deployed(pool, version):
            return problem(404, "version-not-deployed", "API version not deployed", f"{service} {version}")
        pool.last_request_at = self.cluster.clock.now()
        self.budget.record_request(self.cluster.clock.now())
        has_key = any(k.lower() == b"idempotency-key" for k, _ in headers)
        idempotent = method.upper() in IDEMPOTENT_METHODS or has_key
        url = path + (f"?{query.decode('latin-1')}" if query else "")
        tried: set[str] = set()
        last: Attempt | None = None
        while True:
            inst = self.pick(pool, version, tried)
            if inst is None and not tried:
                if not await self.cluster.wait_ready(service, timeout_s=self.cfg.hold_timeout_s):
                    return problem(
                        503,
                        "no-instance",
                        "No instance is ready",
                        f"{service} has no ready instance",
                        retry_after=1,
                    )
                inst = self.pick(pool, version, tried)
            if inst is None:
                break
            tried.add(inst.id)
            previous, last = last, await self._attempt(inst, method, url, headers, body)
            if previous is not None and _replay_refused(last):
                # the retry's nonce was taken by the earlier attempt, so that one reached the
                # service: its outcome is what the client must hear about (unknown, a 5xx)
                last = previous
                break
            if not self._should_retry(last, idempotent):
                break
            if len(tried) > self.cfg.max_retries:
                break
            if not self.budget.try_spend(self.cluster.clock.now()):
                self.budget_exhausted += 1
                break
            self.retries += 1
        return self._answer(last, len(tried), service)

    @staticmethod
    def _should_retry(a: Attempt, idempotent: bool) -> bool:
        if a.error == "connect":
            return True  # never reached the service: always safe
        if a.error == "cut":
            return False
        if a.error in ("reset", "timeout"):
            return idempotent
        assert a.response is not None
        return a.response.status_code == 503 and idempotent

    async def _attempt(
        self, inst: Instance, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Attempt:
        t0 = time.perf_counter()
        resp: httpx.Response | None = None
        error: str | None = None
        inst.begin()
        task = asyncio.ensure_future(self._exchange(inst, method, url, headers, body))
        # the instance stays busy until its work is done, even after we stop waiting for it
        task.add_done_callback(lambda _t: inst.end())
        try:
            # shielded: giving up on an answer does not stop the work it was for, as with a
            # real server (an in-process app would otherwise be cancelled mid-payment)
            resp = await asyncio.wait_for(asyncio.shield(task), self.cfg.per_try_timeout_s)
        except _CutError:
            error = "cut"
        except (httpx.ConnectError, httpx.ConnectTimeout):
            error = "connect"
        except (TimeoutError, httpx.TimeoutException):
            error = "timeout"
            self._abandoned.add(task)
            task.add_done_callback(self._abandoned.discard)
            task.add_done_callback(_consume)
        except httpx.TransportError:
            error = "reset"
        latency = time.perf_counter() - t0
        status = resp.status_code if resp is not None else (504 if error == "timeout" else 502)
        now = self.cluster.clock.now()
        self.cluster.metrics.record(inst.service, inst.build, now, status, latency)
        if status >= 500:
            inst.consecutive_failures += 1
            if inst.consecutive_failures >= self.cfg.eject_after:
                self._eject(inst, now)
        else:
            inst.consecutive_failures = 0
        return Attempt(inst, resp, error)

    @staticmethod
    async def _exchange(
        inst: Instance, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> httpx.Response:
        request = inst.client.build_request(method, url, headers=headers, content=body)
        resp = await inst.client.send(request, stream=True)
        try:
            await resp.aread()
        except httpx.TransportError as exc:
            # the instance answered and then lost the rest: the request was processed, and a
            # proxy that has started answering cannot take it back; the client sees a cut too
            raise _CutError(str(exc)) from exc
        finally:
            await resp.aclose()
        return resp

    def _eject(self, inst: Instance, now: float) -> None:
        pool = self.cluster.pool(inst.service)
        ready = pool.ready()
        ejected = sum(1 for i in ready if now < i.ejected_until)
        if now < inst.ejected_until or (ejected + 1) > self.cfg.max_ejected_share * len(ready):
            return
        inst.ejected_until = now + self.cfg.eject_s
        inst.consecutive_failures = 0
        self.cluster.note(f"ejected {inst.id} for {self.cfg.eject_s:g} s after consecutive failures")

    def _answer(
        self, a: Attempt | None, attempts: int, service: str
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if a is None:
            return problem(
                503, "no-instance", "No instance is ready", f"{service} has no ready instance", retry_after=1
            )
        meta = [
            (b"x-cp-instance", a.instance.id.encode()),
            (b"x-cp-build", a.instance.build.encode()),
            (b"x-cp-attempts", str(attempts).encode()),
        ]
        if a.response is None:
            if a.error == "cut":
                return CUT, b"", meta
            if a.error == "timeout":
                status, content, headers = problem(
                    504, "upstream-timeout", "The service did not answer in time"
                )
            else:
                status, content, headers = problem(502, "upstream-unavailable", f"Upstream {a.error}")
            return status, content, headers + meta
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in a.response.headers.multi_items()
            if k.lower() not in HOP_BY_HOP
        ]
        return a.response.status_code, a.response.content, headers + meta


def _consume(task: asyncio.Future[httpx.Response]) -> None:
    """Fetch an abandoned attempt's outcome so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()


def _replay_refused(a: Attempt) -> bool:
    if a.response is None or a.response.status_code != 401:
        return False
    try:
        doc = a.response.json()
    except ValueError:
        return False
    return isinstance(doc, dict) and str(doc.get("type", "")).endswith("/replayed-request")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

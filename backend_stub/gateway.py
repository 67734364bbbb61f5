"""The gateway (load balancer): routes ``/SERVICE/vN/...`` to an instance of the right pool.

- The request target is forwarded exactly as sent: never percent-decoded, never normalised
  (``%27`` stays ``%27``, ``..%2f`` is not resolved), because the terminal signed it so
  (docs/api.md). A malformed one (``%00``, a bad escape, a control character) is 400.
- Refused at the edge, before an instance sees it (:mod:`backend_stub.edge`): a request to a
  signed route without a valid signature (401, the same problem types as the instance's;
  the HMAC is checked when the gateway has the terminals' keys), and a key over its rate
  (token bucket per ``X-Cp-Key-Id``, 429 with ``Retry-After``). Bodies above the cap (413),
  slow headers and bodies are refused by the server in front (:mod:`backend_stub.http1`).
- Weighted split between a pool's stable and canary builds (seeded, so runs repeat).
- Within a build, the less busy of two random ready instances (power of two choices).
- Retries to a *different* instance on connect failure, reset, per-try timeout or 503,
  within ``max_retries`` and a retry budget (retries may be at most ``retry_budget_ratio``
  of recent requests plus ``retry_budget_min``; :class:`terminal.domain.retry_budget.RetryBudget`),
  never on a plain 500, never once an answer has started and broken off. A request that is
  not idempotent (a POST without ``Idempotency-Key``) is retried only when it cannot have
  been processed: after a connect failure, or a 503 that says it was shed (``X-Cp-Shed``:
  refused before any work, see :mod:`backend_stub.admission`). A retry is the same signed
  request again: the services accept such a retransmission of a read or of a keyed write
  (see :mod:`backend_stub.auth`), and the shared idempotency store replays or dedupes it. A
  retry that finds the earlier attempt still at work (409 ``idempotency-in-flight``, after a
  per-try timeout) answers with the earlier attempt's outcome: the client asked once and
  must hear "unknown", not a conflict the gateway made itself.
- Ejects an instance after ``eject_after`` consecutive failures for ``eject_s``, never more
  than ``max_ejected_share`` of a pool (a shed 503 is a busy instance, not a failing one).
- A service scaled to zero: the request is held until an instance is ready, not failed.
- Records every attempt per build (see :mod:`backend_stub.metrics`); ``GET /metrics``.

Two front doors to one :meth:`Gateway.handle`: the lean HTTP/1.1 server of process mode
(``backend_stub.supervisor``) and ASGI (``__call__``: in-process deployments, tests).

Answers of its own are RFC 9457 problem documents: ``no-route`` (404), ``version-not-deployed``
(404), ``no-instance`` (503, after the hold timeout), ``upstream-unavailable`` (502),
``upstream-timeout`` (504), ``rate-limited`` (429), ``malformed-path`` / ``malformed-query``
(400), ``body-too-large`` (413), and the 401s of :func:`backend_stub.edge.precheck`.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.cluster import Cluster, Instance, Pool
from backend_stub.edge import (
    EdgeRefusal,
    RateLimiter,
    is_public,
    precheck,
    retry_after_s,
    segments,
    split_target,
)
from backend_stub.http1 import (
    HOP_BY_HOP,
    ConnectFailedError,
    CutError,
    Headers,
    Request,
    Response,
    ServerStats,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeoutError,
    problem,
)
from backend_stub.metrics import prometheus_text
from terminal.domain.retry_budget import RetryBudget

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# the gateway writes these itself on every answer it passes on (X-Cp-Shed is passed on: that
# nothing was done is as true for the terminal as for the gateway)
OWN_HEADERS = frozenset({b"x-cp-instance", b"x-cp-build", b"x-cp-attempts"})
_VERSION = re.compile(r"^v[0-9]+$")
METRICS_WINDOW_S = 10.0  # real seconds of the windowed gauges at /metrics
RETRY_BUDGET_WINDOW_S = 10.0
JSON = [(b"content-type", b"application/json")]

KeyBook = Callable[[], Mapping[str, Sequence[bytes]] | None]
"""The terminals' keys (key id -> its usable secrets), asked for on each signed request;
None: not known (yet), and the instances alone check signatures."""


@dataclass(frozen=True, slots=True)
class Attempt:
    instance: Instance
    response: UpstreamResponse | None
    error: str | None  # connect | reset | timeout | cut


def _refusal(r: EdgeRefusal, instance: str = "") -> Response:
    extra: dict[str, Any] = {}
    if instance:
        extra["instance"] = instance
    if r.retry_after is not None:
        extra["retry_after"] = r.retry_after
    resp = problem(r.status, r.slug, r.title, r.detail, **extra)
    resp.headers += r.headers
    return resp


class Gateway:
    """In front of a :class:`Cluster`: ASGI (``__call__``) or :meth:`handle` for the HTTP server."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        auto_tick_s: float | None = None,
        control: ASGIApp | None = None,
        keys: KeyBook | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cluster = cluster
        cfg = cluster.topology.gateway
        self.cfg = cfg
        self.limits = cluster.topology.limits
        self.rng = random.Random(cfg.seed)  # noqa: S311 - load balancing, not security
        self.budget = RetryBudget(
            ratio=cfg.retry_budget_ratio, min_retries=cfg.retry_budget_min, window_s=RETRY_BUDGET_WINDOW_S
        )
        self.rate_limiter = RateLimiter(rate=self.limits.rate_per_key, burst=self.limits.burst_per_key)
        self.rate_clock = rate_clock
        self.auth_clock: Callable[[], float] = time.time  # the instances' clock (signature window)
        self.keys = keys
        self.auto_tick_s = auto_tick_s
        self.control = control
        self._last_tick = -1e18
        self._tick_task: asyncio.Task[None] | None = None
        self.retries = 0
        self.budget_exhausted = 0
        self.refused = {"malformed": 0, "unauthenticated": 0, "rate_limited": 0, "too_large": 0, "shed": 0}
        self.server_stats: ServerStats | None = None  # the HTTP server's, in process mode
        self.notices: Callable[[], list[str]] = list  # set by the deployment: running rollouts

    async def aclose(self) -> None:
        """Stop waiting for answers given up on (a hung instance never sends one)."""
        for pool in self.cluster.pools.values():
            for inst in pool.instances:
                inst.upstream.drop_abandoned()
        await asyncio.sleep(0)  # let the dropped exchanges end

    # -- the front door --------------------------------------------------------------

    async def handle(self, req: Request) -> Response:
        """One request, as the HTTP server parsed it (target as sent)."""
        await self.cluster.start()
        if self.auto_tick_s is not None:
            self._maybe_tick()
        try:
            path, query = split_target(req.target)
        except EdgeRefusal as r:
            self.refused["malformed"] += 1
            return _refusal(r)
        if path == b"/healthz":
            return Response(200, b'{"status":"ok"}', list(JSON))
        if path == b"/metrics":
            text = prometheus_text(
                self.cluster.metrics,
                now=self.cluster.clock.now(),
                window_s=METRICS_WINDOW_S,
                gauges=self.cluster.gauges(),
            )
            return Response(200, text.encode(), [(b"content-type", b"text/plain; version=0.0.4")])
        if path.startswith(b"/_platform/"):
            if self.control is None:
                return problem(404, "no-route", "No such route", path.decode("latin-1"))
            return await call_asgi(self.control, req, path, query)
        if path == b"/discovery" and req.method == "GET":
            return await self.discovery()
        parts = segments(path)
        service = parts[0]
        if service not in self.cluster.pools:
            return problem(
                404, "no-route", "No service at this path", f"known services: {', '.join(self.cluster.pools)}"
            )
        keys = self.keys() if self.keys is not None else None
        if keys is not None and not is_public(parts):
            try:
                key_id = precheck(
                    method=req.method,
                    target=req.target,
                    headers=req.headers,
                    body=req.body,
                    now=self.auth_clock(),
                    keys=keys,
                )
            except EdgeRefusal as r:
                self.refused["unauthenticated"] += 1
                return _refusal(r, path.decode("latin-1"))
            wait = self.rate_limiter.take(key_id, self.rate_clock())
            if wait:
                self.refused["rate_limited"] += 1
                return problem(
                    429,
                    "rate-limited",
                    "Too many requests",
                    f"a terminal key may send {self.limits.rate_per_key:g} requests per second "
                    f"(bursts of {self.limits.burst_per_key})",
                    retry_after=retry_after_s(wait),
                )
        version = parts[1] if len(parts) >= 2 and _VERSION.match(parts[1]) else None
        headers = [(k, v) for k, v in req.headers if k not in HOP_BY_HOP]
        return await self.forward(
            method=req.method,
            target=req.target,
            headers=headers,
            body=req.body,
            service=service,
            version=version,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: in-process deployments and tests (the control API is ASGI already)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"].startswith("/_platform/") and self.control is not None:
            await self.control(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        body = await _read_body(receive, self.limits.max_body_bytes)
        if body is None:
            self.refused["too_large"] += 1
            cap = self.limits.max_body_bytes
            resp = problem(413, "body-too-large", "Request body too large", f"at most {cap} bytes")
        else:
            client = scope.get("client")
            req = Request(
                scope["method"],
                raw + (b"?" + query if query else b""),
                [(k.lower(), v) for k, v in scope["headers"]],
                body,
                str(client[0]) if client else "",
            )
            resp = await self.handle(req)
        if resp.cut:
            # pass the lost answer on: headers promising a body that never comes
            await send(
                {
                    "type": "http.response.start",
                    "status": resp.status,
                    "headers": [*resp.headers, (b"content-length", b"64")],
                }
            )
            return
        headers = [*resp.headers, (b"content-length", str(len(resp.body)).encode())]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": resp.body})

    def _maybe_tick(self) -> None:
        """Real-clock modes without a timer (the embedded backend) tick on traffic."""
        assert self.auto_tick_s is not None
        now = self.cluster.clock.now()
        if now - self._last_tick < self.auto_tick_s or (self._tick_task and not self._tick_task.done()):
            return
        self._last_tick = now
        self._tick_task = asyncio.ensure_future(self.cluster.tick())

    # -- routing ---------------------------------------------------------------------

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
        if pool.retiring:
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
        if version is None:
            return True
        builds = [pool.stable, *([pool.canary] if pool.canary else []), *pool.retiring]
        return any(self.serves(pool, b, version) for b in builds)

    async def discovery(self) -> Response:
        """Every service's own discovery document, merged, plus the platform's notices."""
        merged: dict[str, Any] = {"services": {}, "notices": []}
        for service in self.cluster.pools:
            resp = await self.forward(
                method="GET", target=b"/discovery", headers=[], body=b"", service=service, version=None
            )
            try:
                doc = json.loads(resp.body) if resp.status == 200 else None
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                merged["notices"].append(f"{service}: discovery unavailable (HTTP {resp.status})")
                continue
            merged["services"].update(doc.get("services", {}))
            merged["notices"] += [n for n in doc.get("notices", []) if n not in merged["notices"]]
        merged["notices"] += self.notices()
        return Response(200, json.dumps(merged).encode(), list(JSON))

    # -- forwarding ------------------------------------------------------------------

    async def forward(
        self,
        *,
        method: str,
        target: bytes,
        headers: Headers,
        body: bytes,
        service: str,
        version: str | None,
    ) -> Response:
        pool = self.cluster.pool(service)
        if not self._version_deployed(pool, version):
            return problem(404, "version-not-deployed", "API version not deployed", f"{service} {version}")
        now = self.cluster.clock.now()
        pool.last_request_at = now
        self.budget.record_request(now)
        idempotent = method in IDEMPOTENT_METHODS or any(k == b"idempotency-key" for k, _ in headers)
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
            previous, last = last, await self._attempt(inst, method, target, headers, body)
            if previous is not None and _met_itself(last):
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
        return a.response.status == 503 and (idempotent or _shed(a.response))

    async def _attempt(
        self, inst: Instance, method: str, target: bytes, headers: Headers, body: bytes
    ) -> Attempt:
        t0 = time.perf_counter()
        resp: UpstreamResponse | None = None
        error: str | None = None
        inst.begin()
        try:
            # the instance stays busy until its work is done, even after we stop waiting for it
            resp = await inst.upstream.request(
                method, target, headers, body, timeout=self.cfg.per_try_timeout_s, on_done=inst.end
            )
        except CutError:
            error = "cut"
        except ConnectFailedError:
            error = "connect"
        except UpstreamTimeoutError:
            error = "timeout"
        except UpstreamError:
            error = "reset"
        latency = time.perf_counter() - t0
        status = resp.status if resp is not None else (504 if error == "timeout" else 502)
        now = self.cluster.clock.now()
        self.cluster.metrics.record(inst.service, inst.build, now, status, latency)
        if resp is not None and status == 503 and _shed(resp):
            self.refused["shed"] += 1  # busy, not broken: no step towards ejection
        elif status >= 500:
            inst.consecutive_failures += 1
            if inst.consecutive_failures >= self.cfg.eject_after:
                self._eject(inst, now)
        else:
            inst.consecutive_failures = 0
        return Attempt(inst, resp, error)

    def _eject(self, inst: Instance, now: float) -> None:
        pool = self.cluster.pool(inst.service)
        ready = pool.ready()
        ejected = sum(1 for i in ready if now < i.ejected_until)
        if now < inst.ejected_until or (ejected + 1) > self.cfg.max_ejected_share * len(ready):
            return
        inst.ejected_until = now + self.cfg.eject_s
        inst.consecutive_failures = 0
        self.cluster.note(f"ejected {inst.id} for {self.cfg.eject_s:g} s after consecutive failures")

    def _answer(self, a: Attempt | None, attempts: int, service: str) -> Response:
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
                return Response(200, b"", [*JSON, *meta], cut=True)
            if a.error == "timeout":
                resp = problem(504, "upstream-timeout", "The service did not answer in time")
            else:
                resp = problem(502, "upstream-unavailable", f"Upstream {a.error}")
            resp.headers += meta
            return resp
        headers = [(k, v) for k, v in a.response.headers if k not in HOP_BY_HOP and k not in OWN_HEADERS]
        return Response(a.response.status, a.response.body, headers + meta)

    def status(self) -> dict[str, Any]:
        """What the edge refused and its limits (``backend status``)."""
        out: dict[str, Any] = {
            "retries": self.retries,
            "retry_budget_exhausted": self.budget_exhausted,
            "refused": dict(self.refused),
            "rate_limited_keys_tracked": len(self.rate_limiter),
        }
        if self.server_stats is not None:
            out["server"] = self.server_stats.as_json()
        return out


def _shed(resp: UpstreamResponse) -> bool:
    """A 503 the instance sent before doing anything (``backend_stub.admission``)."""
    return any(k == b"x-cp-shed" for k, _ in resp.headers)


def _met_itself(a: Attempt) -> bool:
    """A retry answered "this key is still being processed": by the attempt before it."""
    if a.response is None or a.response.status != 409:
        return False
    try:
        doc = json.loads(a.response.body)
    except ValueError:
        return False
    return isinstance(doc, dict) and str(doc.get("type", "")).endswith("/idempotency-in-flight")


async def _read_body(receive: Receive, cap: int) -> bytes | None:
    """The request body, or None once it grows past ``cap`` (the rest is not read)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def call_asgi(app: ASGIApp, req: Request, path: bytes, query: bytes) -> Response:
    """Run an ASGI app (the control API) for one request of the HTTP server."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": req.method,
        "scheme": "http",
        "path": path.decode("latin-1"),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": req.headers,
        "server": ("127.0.0.1", 0),
        "client": (req.peer, 0),
    }
    sent = False
    status = 500
    headers: Headers = []
    parts: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": req.body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [(k.lower(), v) for k, v in message.get("headers", []) if k.lower() not in HOP_BY_HOP]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return Response(status, b"".join(parts), headers)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

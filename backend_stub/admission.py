"""An instance's own defence: what it admits, in what order, and what it sheds.

:class:`AdmissionMiddleware` wraps a service app (outermost, before faults and the app):

1. a target that is malformed (see :func:`backend_stub.edge.split_target`): 400;
2. a body above ``max_body_bytes``: 413, from ``Content-Length`` before reading a byte, or
   as soon as a body without one grows past the cap; the body is read in full *before* a
   concurrency slot is taken, so a slow upload never holds one;
3. at most ``max_concurrency`` requests at work; the rest wait in a queue of at most
   ``max_queue``, by priority (:func:`priority`): payment writes and inquiries first, then
   quotes, then polls and lists. When the queue is full a newcomer takes the place of the
   newest waiter of a lower class, which is shed; a newcomer with no one below it is shed.
   A waiter that waits longer than its class allows is shed too. Shed means 503
   ``overloaded`` with ``Retry-After`` and ``X-Cp-Shed: 1``: nothing was done, so anyone may
   send it again, to this instance or another (the gateway does, within its retry budget).

A request that got a slot is never shed: an accepted payment runs to its end. Probes
(``/healthz``, ``/readyz``) and ``/discovery`` bypass the queue: an instance that is busy is
not unhealthy, and taking it out of rotation would only pile its load onto the others. An
invoice long-poll takes no slot either (it waits, it does not work): at most ``max_held`` are
held at once, and one more is shed.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.edge import EdgeRefusal, segments, split_target
from backend_stub.topology import LimitsConfig

WRITE, QUOTE, POLL = 0, 1, 2  # priority classes, most important first
HELD = 3  # an invoice long-poll: held, not worked on (see :func:`priority`)
CLASS_NAMES = ("payments", "quotes", "polls")
EXEMPT = frozenset({"healthz", "readyz", "discovery", "metrics"})
SHED_RETRY_AFTER_S = 1


def priority(method: str, path: bytes, query: bytes) -> int | None:
    """The class of a request (None: exempt from the limit).

    An invoice long-poll (``GET .../invoices/{id}?wait=N&after=V``, docs/api.md) is ``HELD``: it
    spends its seconds waiting for a change, not working, so it takes no concurrency slot (16
    waiting tills would otherwise stop every payment behind them); it is counted against
    ``max_held`` instead, and its own look-ups are short reads."""
    parts = segments(path)
    if len(parts) == 1 and parts[0] in EXEMPT:
        return None
    service = parts[0]
    if service == "payments":
        if method == "POST":
            return WRITE  # payments, refunds, invoices: what a sale's money hangs on
        if len(parts) == 4 and parts[2] == "payments":
            return WRITE  # GET one payment: a status inquiry
        if len(parts) == 3 and parts[2] == "payments" and b"reference=" in query:
            return WRITE  # the inquiry by reference after a lost answer
        if len(parts) == 4 and parts[2] == "invoices" and _long_poll(query):
            return HELD
        return POLL
    if service == "rates" and method == "POST":
        return QUOTE
    return POLL


def _long_poll(query: bytes) -> bool:
    params = dict(p.partition(b"=")[::2] for p in query.split(b"&"))
    wait = params.get(b"wait", b"0")
    return b"after" in params and wait.isdigit() and int(wait) > 0


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    max_concurrency: int = 16
    max_queue: int = 64
    max_held: int = 1024  # invoice long-polls held at once
    max_wait_s: tuple[float, float, float] = (4.0, 2.0, 1.0)  # per class
    max_body_bytes: int = 64 * 1024


def admission_limits(limits: LimitsConfig) -> AdmissionLimits:
    """What ``[limits]`` and ``[limits.instance]`` of config/backend.toml say an instance admits."""
    i = limits.instance
    return AdmissionLimits(
        max_concurrency=i.max_concurrency,
        max_queue=i.max_queue,
        max_held=i.max_held,
        max_wait_s=(i.wait_payments_s, i.wait_quotes_s, i.wait_polls_s),
        max_body_bytes=limits.max_body_bytes,
    )


class _Waiter:
    __slots__ = ("future", "klass", "timer")

    def __init__(self, future: asyncio.Future[bool], klass: int) -> None:
        self.future, self.klass = future, klass
        self.timer: asyncio.TimerHandle | None = None


class PriorityLimiter:
    """At most ``max_concurrency`` holders; waiters served most important class first,
    first come first served within a class."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self.active = 0
        self._queues: tuple[deque[_Waiter], ...] = (deque(), deque(), deque())
        self.waiting = 0
        self.shed = [0, 0, 0]
        self.admitted = [0, 0, 0]

    async def acquire(self, klass: int) -> bool:
        """True: the caller holds a slot (release it); False: shed."""
        if self.active < self.limits.max_concurrency and self.waiting == 0:
            self.active += 1
            self.admitted[klass] += 1
            return True
        if self.waiting >= self.limits.max_queue and not self._evict_below(klass):
            self.shed[klass] += 1
            return False
        loop = asyncio.get_running_loop()
        w = _Waiter(loop.create_future(), klass)
        w.timer = loop.call_later(self.limits.max_wait_s[klass], self._expire, w)
        self._queues[klass].append(w)
        self.waiting += 1
        try:
            granted = await w.future
        except asyncio.CancelledError:
            if w.future.done() and not w.future.cancelled() and w.future.result():
                self.release()  # granted just as the caller went away
            else:
                self._remove(w)
            raise
        if granted:
            self.admitted[klass] += 1
        else:
            self.shed[klass] += 1
        return granted

    def release(self) -> None:
        self.active -= 1
        for q in self._queues:
            while q:
                w = q.popleft()
                self.waiting -= 1
                if w.timer is not None:
                    w.timer.cancel()
                if not w.future.done():
                    self.active += 1
                    w.future.set_result(True)
                    return

    def _evict_below(self, klass: int) -> bool:
        for lower in range(len(self._queues) - 1, klass, -1):
            q = self._queues[lower]
            while q:
                w = q.pop()  # the newest of the lowest class goes first
                self.waiting -= 1
                if w.timer is not None:
                    w.timer.cancel()
                if not w.future.done():
                    w.future.set_result(False)
                    return True
        return False

    def _expire(self, w: _Waiter) -> None:
        w.timer = None
        if self._remove(w) and not w.future.done():
            w.future.set_result(False)

    def _remove(self, w: _Waiter) -> bool:
        q = self._queues[w.klass]
        try:
            q.remove(w)
        except ValueError:
            return False
        self.waiting -= 1
        if w.timer is not None:
            w.timer.cancel()
            w.timer = None
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "waiting": self.waiting,
            "admitted": dict(zip(CLASS_NAMES, self.admitted, strict=True)),
            "shed": dict(zip(CLASS_NAMES, self.shed, strict=True)),
        }


def _problem_messages(refusal: EdgeRefusal) -> tuple[Message, Message]:
    doc: dict[str, Any] = {
        "type": f"https://cryptopos.dev/problems/{refusal.slug}",
        "title": refusal.title,
        "status": refusal.status,
    }
    if refusal.detail:
        doc["detail"] = refusal.detail
    body = json.dumps(doc, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    headers += refusal.headers
    if refusal.retry_after is not None:
        headers.append((b"retry-after", str(refusal.retry_after).encode()))
    return (
        {"type": "http.response.start", "status": refusal.status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


class _TooLargeError(Exception):
    pass


class AdmissionMiddleware:
    """See the module docstring. ``limiter`` is exposed for status and tests."""

    def __init__(self, app: ASGIApp, limits: AdmissionLimits | None = None) -> None:
        self.app = app
        self.limits = limits or AdmissionLimits()
        self.limiter = PriorityLimiter(self.limits)
        self.refused = {"malformed": 0, "too_large": 0, "held_over_limit": 0}
        self.held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        try:
            path, _ = split_target(raw + (b"?" + query if query else b""))
            klass = priority(scope["method"], path, query)
        except EdgeRefusal as refusal:
            self.refused["malformed"] += 1
            await _send_refusal(send, refusal)
            return
        if klass is None:
            await self.app(scope, receive, send)
            return
        if klass == HELD:
            if self.held >= self.limits.max_held:
                self.refused["held_over_limit"] += 1
                await _send_refusal(send, _shed_refusal(POLL))
                return
            self.held += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.held -= 1
            return
        try:
            receive = await self._buffered(scope, receive)
        except _TooLargeError:
            self.refused["too_large"] += 1
            cap = self.limits.max_body_bytes
            await _send_refusal(
                send, EdgeRefusal(413, "body-too-large", "Request body too large", f"at most {cap} bytes")
            )
            return
        if not await self.limiter.acquire(klass):
            await _send_refusal(send, _shed_refusal(klass))
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.release()

    async def _buffered(self, scope: Scope, receive: Receive) -> Receive:
        """The whole body (up to the cap), then a ``receive`` that hands it over once."""
        cap = self.limits.max_body_bytes
        for k, v in scope["headers"]:
            if k == b"content-length":
                if v.isdigit() and int(v) > cap:
                    raise _TooLargeError
                if v == b"0":
                    return receive
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first: Message = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise _TooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        pending: list[Message] = [first]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()

        return replay


def _shed_refusal(klass: int) -> EdgeRefusal:
    return EdgeRefusal(
        503,
        "overloaded",
        "The instance is overloaded",
        f"{CLASS_NAMES[klass]} are shed first when it is busy; nothing was done, send it again",
        [(b"x-cp-shed", b"1")],
        retry_after=SHED_RETRY_AFTER_S,
    )


async def _send_refusal(send: Send, refusal: EdgeRefusal) -> None:
    start, body = _problem_messages(refusal)
    await send(start)
    await send(body)

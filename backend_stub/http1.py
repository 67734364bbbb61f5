"""A lean HTTP/1.1 server and pooled client on ``httptools``: the gateway's hot path.

Why not uvicorn + httpx here (docs/decisions.md, "the gateway speaks HTTP itself"): uvicorn
has no timeout for a connection that sends its headers slowly (only a keep-alive timer
after a response), so 200 slowloris connections would sit forever; and a request through
uvicorn's ASGI layer plus an httpx client to the instance cost about ten times the CPU
of parsing and forwarding the bytes (profile in docs/BENCHMARKS.md). This module does only
what a reverse proxy needs: parse a request, hand it to a handler with the target exactly
as sent (never decoded, never normalised), write the answer; and, as a client, send a
request on a pooled keep-alive connection and read the answer.

Server guarantees (:class:`ServerLimits`): headers must arrive within ``header_timeout_s``
of the connection's start or of the previous answer (else the connection is closed), a
body within ``body_timeout_s`` of its headers (408); headers larger than
``max_header_bytes`` get 431, a body larger than ``max_body_bytes`` gets 413 before it is
read (``Content-Length``) or as soon as it grows past the cap (chunked), and the connection
is closed; connections beyond ``max_connections`` are closed at once; an idle keep-alive
connection is closed after ``keep_alive_s``. Pipelined requests are answered in order, one
at a time; reading pauses while a connection has answers pending.

Client errors (:class:`UpstreamError` and its subclasses) tell the gateway's retry rules
what may have happened::

    UpstreamError (Exception)
      ConnectFailedError    nothing was sent: the connection could not be made
      ResetError            sent, then the connection ended before any answer
      CutError              an answer started and broke off
      UpstreamTimeoutError  no complete answer within the timeout (the request goes on)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

import httptools

log = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]
CUT_LENGTH = 64  # what a cut answer promises and never sends

_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
# never copied from one hop to the next: the proxy writes its own framing
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)


@dataclass(slots=True)
class Request:
    """One parsed request. ``target`` is the request line's target as sent (path and query,
    percent-escapes untouched); header names are lower-case."""

    method: str
    target: bytes
    headers: Headers
    body: bytes = b""
    peer: str = ""

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


@dataclass(slots=True)
class Response:
    """An answer. ``cut``: send the head (promising ``Content-Length`` bytes) and close the
    connection without the body, as an upstream answer that broke off."""

    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)
    cut: bool = False
    close: bool = False


def problem(status: int, slug: str, title: str, detail: str = "", **extra: Any) -> Response:
    """An RFC 9457 problem document (``https://cryptopos.dev/problems/<slug>``)."""
    doc: dict[str, Any] = {"type": f"https://cryptopos.dev/problems/{slug}", "title": title, "status": status}
    if detail:
        doc["detail"] = detail
    doc.update(extra)
    headers: Headers = [(b"content-type", b"application/problem+json")]
    if "retry_after" in extra:
        headers.append((b"retry-after", str(extra["retry_after"]).encode()))
    return Response(status, json.dumps(doc, separators=(",", ":")).encode(), headers)


def encode_head(status: int, headers: Headers, length: int, *, close: bool) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Unknown"))]
    lines += [k + b": " + v for k, v in headers]
    lines.append(b"content-length: %d" % length)
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


# -- server ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    max_body_bytes: int = 64 * 1024
    max_header_bytes: int = 16 * 1024
    header_timeout_s: float = 5.0
    body_timeout_s: float = 10.0
    keep_alive_s: float = 30.0
    max_connections: int = 4096
    max_pipelined: int = 32  # requests parsed ahead of their answers before reading pauses


Handler = Callable[[Request], Awaitable[Response]]


class ServerStats:
    """Counters of what the server refused on its own (shown by ``backend status``)."""

    def __init__(self) -> None:
        self.connections = 0
        self.refused_connections = 0
        self.header_timeouts = 0
        self.body_timeouts = 0
        self.too_large = 0
        self.bad_requests = 0

    def as_json(self) -> dict[str, int]:
        return {
            "open_connections": self.connections,
            "refused_connections": self.refused_connections,
            "header_timeouts": self.header_timeouts,
            "body_timeouts": self.body_timeouts,
            "bodies_too_large": self.too_large,
            "malformed_requests": self.bad_requests,
        }


class _ServerConnection(asyncio.Protocol):
    """One accepted connection: httptools parses, one task answers its requests in order.

    Timers: the first request's headers have ``header_timeout_s`` from the connection's
    start; an idle keep-alive connection has ``keep_alive_s`` until the next request begins,
    whose headers then have ``header_timeout_s``; a body has ``body_timeout_s`` from the end
    of its headers. No timer runs while an answer is being made (that is the upstream's
    per-try timeout)."""

    def __init__(self, handler: Handler, limits: ServerLimits, stats: ServerStats) -> None:
        self.handler = handler
        self.limits = limits
        self.stats = stats
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.counted = False
        self.parser = httptools.HttpRequestParser(self)
        self.peer = ""
        self.queue: deque[tuple[Request, bool]] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closing = False
        self.paused = False
        self.answered = 0
        self.in_headers = False
        self.in_body = False
        self.header_bytes = 0
        # the request being parsed
        self.url = b""
        self.headers: Headers = []
        self.body: list[bytes] = []
        self.body_len = 0

    # -- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike
        self.transport = transport = cast(asyncio.Transport, transport)
        if self.stats.connections >= self.limits.max_connections:
            self.stats.refused_connections += 1
            self.closing = True
            transport.abort()
            return
        self.counted = True
        self.stats.connections += 1
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else ""
        self._arm(self.limits.header_timeout_s, self._header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.closing = True
        self.transport = None
        if self.counted:
            self.counted = False
            self.stats.connections -= 1
        if self.worker is not None and not self.worker.done():
            self.worker.cancel()

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _busy(self) -> bool:
        return self.worker is not None and not self.worker.done()

    def _header_timeout(self) -> None:
        self.timer = None
        if not self.in_headers and self._busy():
            return  # a complete request is being answered
        if self.in_headers or not self.answered:
            self.stats.header_timeouts += 1
        self._close()  # slow (or no) headers, or an idle keep-alive connection

    def _body_timeout(self) -> None:
        self.timer = None
        self.stats.body_timeouts += 1
        self._refuse(problem(408, "request-timeout", "Request body not received in time"))

    def _close(self) -> None:
        self.closing = True
        self._disarm()
        if self.transport is not None:
            self.transport.close()

    def _refuse(self, resp: Response) -> None:
        """Answer at once and close: nothing more the client sends is read."""
        if self.closing:
            return
        self.closing = True
        self._disarm()
        if self.transport is not None and not self.transport.is_closing():
            head = encode_head(resp.status, resp.headers, len(resp.body), close=True)
            self.transport.write(head + resp.body)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.stats.bad_requests += 1
            self._refuse(problem(400, "bad-request", "Protocol upgrades are not supported"))
            return
        except httptools.HttpParserError as exc:
            if not self.closing:  # else a callback refused the request already
                self.stats.bad_requests += 1
                self._refuse(problem(400, "bad-request", "Malformed HTTP request", str(exc)[:120]))
            return
        if self.in_headers:
            self.header_bytes += len(data)
            if self.header_bytes > self.limits.max_header_bytes:
                self.stats.bad_requests += 1
                self._refuse(problem(431, "headers-too-large", "Request headers too large"))

    # -- parser callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.body = []
        self.body_len = 0
        self.header_bytes = 0
        self.in_headers = True
        self._arm(self.limits.header_timeout_s, self._header_timeout)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.in_headers = False
        length = -1
        chunked = expect = False
        for k, v in self.headers:
            if k == b"content-length":
                length = int(v) if v.isdigit() else -1
            elif k == b"transfer-encoding":
                chunked = True
            elif k == b"expect":
                expect = v.lower() == b"100-continue"
        if length > self.limits.max_body_bytes:
            self.stats.too_large += 1
            self._refuse(_too_large(self.limits.max_body_bytes))
            raise httptools.HttpParserError("body too large")
        self.in_body = length > 0 or chunked
        if self.in_body:
            if expect and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it
            self._arm(self.limits.body_timeout_s, self._body_timeout)
        else:
            self._disarm()

    def on_body(self, body: bytes) -> None:
        self.body_len += len(body)
        if self.body_len > self.limits.max_body_bytes:
            self.stats.too_large += 1
            self._refuse(_too_large(self.limits.max_body_bytes))
            raise httptools.HttpParserError("body too large")
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_body = False
        self._disarm()
        method = self.parser.get_method().decode("latin-1")
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        req = Request(method, self.url, self.headers, body, self.peer)
        self.queue.append((req, self.parser.should_keep_alive()))
        if len(self.queue) >= self.limits.max_pipelined and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        if not self._busy():
            self.worker = self.loop.create_task(self._answer_all())

    # -- answering ----------------------------------------------------------------------

    async def _answer_all(self) -> None:
        while self.queue and not self.closing:
            req, keep_alive = self.queue.popleft()
            try:
                resp = await self.handler(req)
            except Exception:  # a handler's bug must not take the server down
                log.exception("handler failed on %s %r", req.method, req.target[:200])
                resp = problem(500, "internal", "Internal error")
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            if resp.cut:
                transport.write(encode_head(resp.status, resp.headers, CUT_LENGTH, close=True))
                self._close()
                return
            self.answered += 1
            close = resp.close or not keep_alive
            head = encode_head(resp.status, resp.headers, len(resp.body), close=close)
            transport.write(head if req.method == "HEAD" else head + resp.body)
            if close:
                self._close()
                return
            if self.paused and len(self.queue) < self.limits.max_pipelined // 2:
                self.paused = False
                transport.resume_reading()
        if not self.closing and not self.queue and not self.in_headers and not self.in_body:
            self._arm(self.limits.keep_alive_s, self._header_timeout)


def _too_large(cap: int) -> Response:
    return problem(413, "body-too-large", "Request body too large", f"at most {cap} bytes")


class Server:
    """Serves ``handler`` on listening sockets until :meth:`close`."""

    def __init__(self, handler: Handler, *, limits: ServerLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits or ServerLimits()
        self.stats = ServerStats()
        self._servers: list[asyncio.base_events.Server] = []

    async def start(self, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(
            lambda: _ServerConnection(self.handler, self.limits, self.stats), sock=sock, backlog=1024
        )
        self._servers.append(srv)

    async def close(self) -> None:
        for srv in self._servers:
            srv.close()
        for srv in self._servers:
            with contextlib.suppress(Exception):
                await srv.wait_closed()
        self._servers.clear()


# -- client ----------------------------------------------------------------------------


class UpstreamError(Exception):
    """A request to an upstream that did not get a complete answer."""


class ConnectFailedError(UpstreamError):
    """The connection could not be made: nothing was sent."""


class ResetError(UpstreamError):
    """The request was sent (maybe in part) and the connection ended before any answer."""


class CutError(UpstreamError):
    """The answer started and broke off: the upstream did the work, its answer is lost."""


class UpstreamTimeoutError(UpstreamError):
    """No complete answer in time. The request is not cancelled: the upstream keeps working."""


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Headers
    body: bytes


class _ClientConnection(asyncio.Protocol):
    """One keep-alive connection to an upstream; one request at a time."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[UpstreamResponse] | None = None
        self.on_done: Callable[[], None] | None = None
        self.head = False  # the answer to a HEAD has headers only, whatever they say
        self.timer: asyncio.TimerHandle | None = None
        self.started = False
        self.headers: Headers = []
        self.body: list[bytes] = []
        self.idle_since = 0.0
        self.closed = False
        self.abandoned = False  # its answer was given up on (timeout); the exchange goes on

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self.pool._forget(self)
        if self.on_done is not None:
            error: UpstreamError = (
                CutError("the answer broke off")
                if self.started
                else ResetError("the connection closed before any answer")
            )
            self._finish(error)

    def send(
        self,
        data: bytes,
        waiter: asyncio.Future[UpstreamResponse],
        timeout: float,
        on_done: Callable[[], None],
        *,
        head: bool = False,
    ) -> None:
        assert self.transport is not None
        self.waiter, self.on_done, self.head = waiter, on_done, head
        self.started = False
        self.headers, self.body = [], []
        self.parser = httptools.HttpResponseParser(self)
        self.timer = self.loop.call_later(timeout, self._timeout)
        self.transport.write(data)

    def _timeout(self) -> None:
        self.timer = None
        self.abandoned = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(UpstreamTimeoutError("no answer in time"))
        # the exchange goes on: the connection is busy until the answer ends (then closed)

    def _finish(self, result: UpstreamResponse | UpstreamError) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiter, on_done = self.waiter, self.on_done
        self.waiter = self.on_done = None
        timed_out = waiter is not None and waiter.done()
        if waiter is not None and not waiter.done():
            if isinstance(result, UpstreamError):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
        if on_done is not None:
            on_done()
        if isinstance(result, UpstreamResponse) and not self.closed:
            if timed_out or not self.parser.should_keep_alive():
                self.close()
            else:
                self.pool._release(self)

    def data_received(self, data: bytes) -> None:
        if self.on_done is None:
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.close()
            if self.on_done is not None:
                self._finish(CutError(f"malformed answer: {exc}"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_headers_complete(self) -> None:
        if self.head:
            # the parser cannot know this answer has no body: end it here, and the connection
            # with it (what follows on it could not be parsed in step)
            self.close()
            self._finish(UpstreamResponse(self.parser.get_status_code(), self.headers, b""))

    def on_message_complete(self) -> None:
        if self.on_done is None:
            return  # a HEAD's answer, ended with its headers
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        self._finish(UpstreamResponse(self.parser.get_status_code(), self.headers, body))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class ConnectionPool:
    """Keep-alive connections to one upstream ``host:port``.

    Idle connections are kept at most ``idle_s`` (shorter than the upstream's keep-alive,
    5 s for uvicorn, so the pool does not send on a connection the server is closing) and
    at most ``max_idle`` of them."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout_s: float = 2.0,
        idle_s: float = 3.0,
        max_idle: int = 256,
    ) -> None:
        self.host, self.port = host, port
        self.loop = asyncio.get_running_loop()
        self.connect_timeout_s = connect_timeout_s
        self.idle_s = idle_s
        self.max_idle = max_idle
        self._idle: list[_ClientConnection] = []
        self._all: set[_ClientConnection] = set()
        self._host_header = f"{host}:{port}".encode()
        self._closed = False

    def _release(self, conn: _ClientConnection) -> None:
        if self._closed or len(self._idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        self._idle.append(conn)

    def _forget(self, conn: _ClientConnection) -> None:
        self._all.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)

    async def _connection(self) -> _ClientConnection:
        now = self.loop.time()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_s:
                return conn
            conn.close()
        if self._closed:
            raise ConnectFailedError("the pool is closed")
        try:
            _, proto = await asyncio.wait_for(
                self.loop.create_connection(lambda: _ClientConnection(self), self.host, self.port),
                self.connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise ConnectFailedError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._all.add(proto)
        return proto

    async def request(
        self,
        method: str,
        target: bytes,
        headers: Headers,
        body: bytes = b"",
        *,
        timeout: float = 30.0,
        on_done: Callable[[], None] | None = None,
    ) -> UpstreamResponse:
        """Send one request; ``on_done`` runs when the exchange is over, which after a
        timeout is later than this call's return (the upstream is still busy until then)."""
        conn = await self._connection()
        lines = [method.encode("latin-1") + b" " + target + b" HTTP/1.1", b"host: " + self._host_header]
        lines += [k + b": " + v for k, v in headers]
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines.append(b"content-length: %d" % len(body))
        data = b"\r\n".join(lines) + b"\r\n\r\n" + body
        waiter: asyncio.Future[UpstreamResponse] = self.loop.create_future()
        conn.send(data, waiter, timeout, on_done or _nothing, head=method == "HEAD")
        return await waiter

    def drop_abandoned(self) -> None:
        """Close the connections whose answers were given up on (a hung upstream never
        sends one); their ``on_done`` runs now."""
        for conn in list(self._all):
            if conn.abandoned:
                conn.close()

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._all):
            conn.close()
        self._idle.clear()
        await asyncio.sleep(0)  # let connection_lost run


def _nothing() -> None:
    return None

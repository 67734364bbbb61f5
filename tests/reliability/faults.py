"""Fault injection for the terminal's HTTP traffic: an httpx transport wrapper (in-process) and a
TCP proxy (real sockets, for a real server on loopback).

Faults, each for requests matching ``METHOD /path-prefix``:

* ``refuse``          connection refused: nothing reaches the backend
* ``drop``            the request is lost before the backend sees it; the client times out
* ``delay_deliver``   the client times out, the backend gets the request ``delay_s`` later
* ``timeout_after``   the backend commits, the answer is lost (read timeout)
* ``reset_after``     the backend commits, the connection resets mid-response
* ``status``          a 5xx/429 from the "load balancer", the backend sees nothing
* ``status_after``    the backend commits, the client gets a 5xx anyway
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass, field

import httpx


@dataclass
class Fault:
    kind: str
    match: str = "POST /payments/"
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay_s: float = 0.05


@dataclass
class FaultTransport(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport
    faults: list[Fault] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    background: list[asyncio.Task[None]] = field(default_factory=list)

    def _pick(self, request: httpx.Request) -> Fault | None:
        line = f"{request.method} {request.url.path}"
        for f in self.faults:
            if f.times > 0 and line.startswith(f.match):
                f.times -= 1
                return f
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._pick(request)
        line = f"{request.method} {request.url.path}"
        self.log.append(f"{line} {fault.kind if fault else 'ok'}")
        if fault is None:
            return await self.inner.handle_async_request(request)
        if fault.kind == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if fault.kind == "drop":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault.kind == "delay_deliver":
            copy = httpx.Request(
                request.method, request.url, headers=request.headers, content=request.content
            )

            async def later() -> None:
                await asyncio.sleep(fault.delay_s)
                resp = await self.inner.handle_async_request(copy)
                await resp.aread()

            self.background.append(asyncio.create_task(later()))
            raise httpx.ReadTimeout("timed out", request=request)
        if fault.kind in ("status", "status_after"):
            if fault.kind == "status_after":
                resp = await self.inner.handle_async_request(request)
                await resp.aread()
            headers = {"Content-Type": "application/problem+json"}
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            body = {
                "type": "https://cryptopos.dev/problems/injected",
                "title": "Injected",
                "status": fault.status,
            }
            return httpx.Response(fault.status, headers=headers, content=json.dumps(body).encode())
        resp = await self.inner.handle_async_request(request)
        await resp.aread()
        if fault.kind == "timeout_after":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault.kind == "reset_after":
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        raise AssertionError(f"unknown fault {fault.kind}")

    async def settle(self) -> None:
        for t in self.background:
            await t

    async def aclose(self) -> None:
        await self.inner.aclose()


class ResetProxy:
    """A TCP proxy on 127.0.0.1 in front of a real server. ``reset_next(n)`` makes the next ``n``
    connections that carry a ``POST /payments/`` pass the request through, wait for the server's
    answer, send the client only part of it and then reset the connection (SO_LINGER 0)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.resets_left = 0
        self.resets_done = 0
        self.refusing = False
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            _reset(writer)
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            _reset(writer)
            return
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                up_w.write(head + body)
                await up_w.drain()
                resp_head = await up_r.readuntil(b"\r\n\r\n")
                rlen = 0
                for line in resp_head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        rlen = int(line.split(b":", 1)[1])
                resp_body = await up_r.readexactly(rlen) if rlen else b""
                if head.startswith(b"POST /payments/") and self.resets_left > 0:
                    self.resets_left -= 1
                    self.resets_done += 1
                    writer.write((resp_head + resp_body)[: len(resp_head) // 2])
                    await writer.drain()
                    _reset(writer)
                    return
                writer.write(resp_head + resp_body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            up_w.close()
            with contextlib.suppress(Exception):
                writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()

"""Reaching an ASGI app in this process as if over a socket to a uvicorn server.

:class:`InProcessTransport` is the one httpx transport every in-process caller uses: the
tests' clients, the gateway's connections to in-process instances, and the embedded backend
(the terminal's client to the in-process gateway). ``httpx.ASGITransport`` raises or asserts
where a socket fails, so it is not used directly. What a caller sees:

- the instance is down (``is_up()`` false): :class:`httpx.ConnectError`, connection refused;
- the app dies before answering (:class:`InstanceCrashedError`): a reset,
  :class:`httpx.RemoteProtocolError`;
- an unhandled exception before any answer: a plain ``500 Internal Server Error``, as uvicorn
  sends (logged); after the answer has started, the answer as sent;
- an answer that starts and never finishes (fewer bytes than its ``Content-Length``, or no
  final body message): the headers, then :class:`httpx.ReadError` while reading the body.

The test mode's "unknown outcome" is the last case: it commits a payment and then never
answers. :class:`DropResponseMiddleware` turns its :class:`ResponseDroppedError` into an answer
that starts and never finishes, which uvicorn turns into a connection cut mid-response and this
transport into the read error a client would get from that socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.faults import InstanceCrashedError
from backend_stub.problems import ResponseDroppedError

__all__ = ["DropResponseMiddleware", "InProcessTransport"]

log = logging.getLogger(__name__)


class DropResponseMiddleware:
    """Turns :class:`ResponseDroppedError` into a response that starts and never finishes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except ResponseDroppedError:
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                    }
                )


class _BrokenStream(httpx.AsyncByteStream):
    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        raise httpx.ReadError("connection closed in the middle of the response")


class InProcessTransport(httpx.AsyncBaseTransport):
    """An httpx transport to an ASGI app in this process that fails like a socket would."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        is_up: Callable[[], bool] = lambda: True,
        client: tuple[str, int] = ("127.0.0.1", 50000),
    ) -> None:
        self.app = app
        self._is_up = is_up
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._is_up():
            raise httpx.ConnectError("connection refused (instance is down)", request=request)
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": (request.url.host, request.url.port or 80),
            "client": self._client,
        }
        sent_body = False
        done = asyncio.Event()
        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        parts: list[bytes] = []
        complete = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, headers, complete
            if message["type"] == "http.response.start":
                status, headers = int(message["status"]), list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    complete = True
                    done.set()

        try:
            await self.app(scope, receive, send)
        except InstanceCrashedError as exc:
            if status is None:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from exc
        except Exception:
            log.exception("in-process app failed on %s %s", request.method, request.url.path)
            if status is None:
                return httpx.Response(
                    500, headers={"content-type": "text/plain"}, content=b"Internal Server Error"
                )
        finally:
            done.set()
        if status is None:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if not complete or _short(headers, parts):
            return httpx.Response(status, headers=headers, stream=_BrokenStream())
        return httpx.Response(status, headers=headers, content=b"".join(parts))

    def __repr__(self) -> str:
        app: Any = self.app
        return f"InProcessTransport({type(app).__name__})"


def _short(headers: list[tuple[bytes, bytes]], parts: list[bytes]) -> bool:
    for k, v in headers:
        if k.lower() == b"content-length" and v.isdigit():
            return sum(len(p) for p in parts) < int(v)
    return False

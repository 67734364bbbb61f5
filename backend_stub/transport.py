"""Lost answers, in-process and over real sockets.

The test mode's "unknown outcome" commits a payment and then never answers. Over a real
server (uvicorn) the app starts a response and returns without its body, so uvicorn closes
the connection and the client sees it cut mid-response. In-process, :class:`InProcessTransport`
turns the same thing into :class:`httpx.ReadError`, which is what a client sees on a socket.
Use it (not a bare ``httpx.ASGITransport``) to reach these apps in-process.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.problems import ResponseDroppedError

__all__ = ["DropResponseMiddleware", "InProcessTransport"]


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


class _DroppedError(Exception):
    pass


class InProcessTransport(httpx.AsyncBaseTransport):
    """``httpx.ASGITransport`` that reports an unfinished response as a cut connection."""

    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self._inner = httpx.ASGITransport(app=self._guarded, client=client)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        complete = False

        async def tracking(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        await self.app(scope, receive, tracking)
        if scope["type"] == "http" and not complete:
            raise _DroppedError

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except _DroppedError:
            raise httpx.ReadError(
                "the server closed the connection without a complete response", request=request
            ) from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __repr__(self) -> str:
        app: Any = self.app
        return f"InProcessTransport({type(app).__name__})"

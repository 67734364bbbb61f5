"""How the gateway reaches an instance: one interface, two ways.

- a real process on loopback: :class:`backend_stub.http1.ConnectionPool` (raw HTTP/1.1 on
  pooled keep-alive connections, the target sent byte for byte);
- an ASGI app in this process: :class:`HttpxUpstream` over
  :class:`backend_stub.transport.InProcessTransport` (tests, the embedded backend).

Both report failures as :mod:`backend_stub.http1`'s ``UpstreamError`` kinds, which the
gateway's retry rules read, and both call ``on_done`` when the exchange is really over:
after a timeout the instance is still at work, and still counts as busy, until then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import httpx

from backend_stub.http1 import (
    ConnectFailedError,
    CutError,
    Headers,
    ResetError,
    UpstreamResponse,
    UpstreamTimeoutError,
)

__all__ = ["HttpxUpstream", "Upstream"]


class Upstream(Protocol):
    async def request(
        self,
        method: str,
        target: bytes,
        headers: Headers,
        body: bytes = b"",
        *,
        timeout: float = 30.0,
        on_done: Callable[[], None] | None = None,
    ) -> UpstreamResponse: ...

    def drop_abandoned(self) -> None:
        """Stop exchanges whose answers were given up on (timeouts); in-flight ones go on."""

    async def aclose(self) -> None: ...


class HttpxUpstream:
    """An instance behind an httpx client (in-process apps). A timed-out exchange is not
    cancelled (shielded), as a real server would keep working; :meth:`aclose` ends those."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self._abandoned: set[asyncio.Future[UpstreamResponse]] = set()

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
        task = asyncio.ensure_future(self._exchange(method, target, headers, body))
        if on_done is not None:
            task.add_done_callback(lambda _t: on_done())
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            self._abandoned.add(task)
            task.add_done_callback(self._abandoned.discard)
            task.add_done_callback(_consume)
            raise UpstreamTimeoutError("no answer in time") from None

    async def _exchange(self, method: str, target: bytes, headers: Headers, body: bytes) -> UpstreamResponse:
        request = self.client.build_request(method, target.decode("latin-1"), headers=headers, content=body)
        try:
            resp = await self.client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectFailedError(str(exc)) from exc
        except httpx.TransportError as exc:
            raise ResetError(str(exc)) from exc
        try:
            content = await resp.aread()
        except httpx.TransportError as exc:
            # the instance answered and then lost the rest: the request was processed
            raise CutError(str(exc)) from exc
        finally:
            await resp.aclose()
        return UpstreamResponse(resp.status_code, [(k.lower(), v) for k, v in resp.headers.raw], content)

    def drop_abandoned(self) -> None:
        for task in list(self._abandoned):
            task.cancel()

    async def aclose(self) -> None:
        self.drop_abandoned()
        if self._abandoned:
            await asyncio.gather(*self._abandoned, return_exceptions=True)


def _consume(task: asyncio.Future[UpstreamResponse]) -> None:
    """Fetch an abandoned exchange's outcome so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()

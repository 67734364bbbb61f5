"""Every request of an instance: its request id (``X-Request-Id``), echoed in the answer and
logged with the outcome, one JSON line per request (:mod:`terminal.logs`).

The id is the one the terminal made and the gateway passed on; a request that comes without a
usable one (a probe, a client of our own) gets a fresh one. What is logged: the id, method,
path (no query), status, time, and the key id of a signed request. Never a header's value
otherwise, nor a body.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from terminal.logs import new_request_id, request_id_of

log = logging.getLogger("backend_stub.requests")
_HEADER = b"x-request-id"
_QUIET = ("/healthz", "/readyz", "/metrics")  # probes every few seconds: not worth a line each


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = request_id_of(headers.get(_HEADER)) or new_request_id()
        status = 500  # what the client sees when the app fails before answering
        started = time.perf_counter()

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                echoed = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                message = {**message, "headers": [*echoed, (_HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            path: str = scope.get("path", "")
            if path not in _QUIET and log.isEnabledFor(logging.INFO):
                key_id = headers.get(b"x-cp-key-id")
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope.get("method", ""),
                        "path": path,
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "key_id": key_id.decode("latin-1") if key_id else None,
                    },
                )

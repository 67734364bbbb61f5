"""RFC 9457 problem details: every error the backend returns, including unexpected ones.

Errors::

    ProblemError (Exception)        raised by handlers; rendered as application/problem+json
    ResponseDroppedError (Exception)  test mode "unknown outcome": the work is committed, the
                                    answer is never sent (the connection is cut; see
                                    backend_stub.transport)
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://cryptopos.dev/problems/"
PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Raise anywhere in a handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str = "",
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.type, self.title, self.detail, self.extra = status, type_, title, detail, extra
        self.headers = headers or {}

    def document(self, instance: str = "") -> dict[str, Any]:
        return problem_document(
            self.status, self.type, self.title, self.detail, instance=instance, **self.extra
        )


class ResponseDroppedError(Exception):
    """Committed, but the response is lost on the way (see :mod:`backend_stub.transport`)."""


def problem_document(
    status: int, type_: str, title: str, detail: str = "", *, instance: str = "", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_BASE + type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str = "",
    *,
    instance: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_document(status, type_, title, detail, instance=instance, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.type,
        exc.title,
        exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extra,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
        for e in exc.errors()
    ]
    return problem_response(
        422,
        "validation",
        "The request is not valid",
        f"{len(errors)} invalid field(s)",
        instance=request.url.path,
        errors=errors,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem_response(
        exc.status_code,
        slug,
        str(exc.detail),
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Still a problem document: a client can tell "the server failed" from a broken proxy.
    # The exception text is not echoed (it may carry internals); the log has it.
    return problem_response(
        500,
        "internal",
        "Internal error",
        f"{type(exc).__name__} while handling the request",
        instance=request.url.path,
    )


HANDLERS = {
    ProblemError: _on_problem,
    RequestValidationError: _on_validation,
    StarletteHTTPException: _on_http,
    Exception: _on_unexpected,
}

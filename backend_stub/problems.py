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
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://cryptopos.dev/problems/"
PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """The shape of every error answer (RFC 9457); types may add members (``errors``, ...)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="https://cryptopos.dev/problems/<slug>")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = ""
    instance: str = ""


# Every route documents its errors as problem documents (and only as those): "default" also
# keeps FastAPI from documenting its own 422 shape, which this backend never sends.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {
        "description": "RFC 9457 problem details (docs/api.md lists the types)",
        "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
    }
}

# Validation errors whose pydantic type names a specific problem (raised by the strict wire
# types in backend_stub.services.wire); any other error is the generic `validation`.
SPECIFIC_VALIDATION = {
    "invalid_amount": ("invalid-amount", "Invalid amount"),
    "invalid_characters": ("invalid-characters", "Control or bidi characters are not allowed"),
    "invalid_parameter": ("invalid-parameter", "Invalid parameter"),
}


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


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc if p != "body")


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    """422 naming every bad field; a specific type when every error is of one kind (a bool for an
    amount is ``invalid-amount``, a NUL in a reference ``invalid-characters``), else ``validation``."""
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    if any(_field(e["loc"]).lower() == "header.idempotency-key" and e["type"] == "missing" for e in raw):
        # a required header the routes document as required: its own 400, as docs/api.md says
        return problem_response(
            400,
            "idempotency-key-required",
            "Idempotency-Key header required",
            "every write to payments v2 carries an Idempotency-Key (e.g. a UUID per sale)",
            instance=request.url.path,
        )
    errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in raw]
    kinds = {SPECIFIC_VALIDATION.get(e["type"]) for e in raw}
    specific = kinds.pop() if len(kinds) == 1 else None
    slug, title = specific or ("validation", "The request is not valid")
    if len(errors) == 1:
        detail = f"{errors[0]['field'] or 'body'}: {errors[0]['message']}"
    else:
        detail = f"{len(errors)} invalid fields: {', '.join(e['field'] or 'body' for e in errors)}"
    return problem_response(
        422,
        slug,
        title,
        detail,
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

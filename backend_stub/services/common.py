"""What every service version shares: the context, wire formats, and idempotent writes."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from backend_stub.feed import RateFeed
from backend_stub.problems import PROBLEM_JSON, ProblemError
from backend_stub.services.rates.signer import QuoteSigner
from backend_stub.services.wire import DECIMAL
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.domain.money import AmountError, Asset, Money

REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a handler needs; one per app instance."""

    store: Store
    settings: ServiceSettings
    feed: RateFeed
    signer: QuoteSigner
    build: str

    @classmethod
    def create(cls, *, store: Store, settings: ServiceSettings, build: str) -> Context:
        return cls(
            store,
            settings,
            RateFeed(seed=settings.seed, settings=settings.feed),
            QuoteSigner(settings.signing_seed),
            build,
        )

    def now(self) -> float:
        return self.settings.clock()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# RFC 3339 section 5.6 date-time: a full date and time with an offset (what `format: date-time`
# in the OpenAPI documents promises); a bare date or a time without an offset is not one.
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def parse_iso(text: str) -> float:
    try:
        if not _RFC3339.fullmatch(text):
            raise ValueError(text)
        dt = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ProblemError(
            422, "invalid-parameter", "Not an RFC 3339 time", f"{text[:40]!r}; like 2026-11-26T12:00:00Z"
        ) from None
    return dt.timestamp()


def parse_major(text: str, asset: Asset, *, what: str = "amount") -> Money:
    """A v1 wire amount: a plain decimal string in major units (no sign, exponent or spaces)."""
    if not DECIMAL.fullmatch(text):
        raise ProblemError(
            422, "invalid-amount", f"Invalid {what}", f"{text[:40]!r} is not a decimal string like '12.50'"
        )
    try:
        return Money.from_decimal(text, asset)
    except AmountError as exc:
        raise ProblemError(422, "invalid-amount", f"Invalid {what}", str(exc)[:200]) from None


def fingerprint(request: Request, body: dict[str, Any]) -> str:
    """What makes two requests "the same": method, route and the parsed body (not its spacing)."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method}\n{request.url.path}\n{canon}".encode()).hexdigest()


Work = Callable[[sqlite3.Connection], tuple[int, dict[str, Any]]]


async def idempotent_write(
    ctx: Context,
    request: Request,
    *,
    terminal: str,
    key: str | None,
    body: dict[str, Any],
    work: Work,
    before: Callable[[], Any] | None = None,
    after_commit: Callable[[dict[str, Any]], None] | None = None,
) -> JSONResponse:
    """Run ``work`` in one write transaction, at most once per (terminal, key).

    ``work`` returns (status, body) or raises :class:`ProblemError`; a 4xx problem is
    stored and replayed like a success, because the same request would fail the same
    way. The stored response is written in the same transaction as the work, so a crash
    can never leave a charge without its idempotency record. ``before`` (awaitable
    factory) runs while the key is held in flight, e.g. the test mode's slow payment.
    """
    instance = request.url.path
    if key is None:

        def run_plain() -> tuple[int, dict[str, Any]]:
            with ctx.store.write() as db:
                try:
                    return work(db)
                except ProblemError as exc:
                    if exc.status >= 500:
                        raise
                    return exc.status, exc.document(instance)

        if before is not None:
            await before()
        status, doc = await run_in_threadpool(run_plain)
        if after_commit is not None:
            after_commit(doc)
        return _json(status, doc)

    scope = f"terminal:{terminal}"
    fp = fingerprint(request, body)
    begun = await run_in_threadpool(
        ctx.store.begin_idempotent, scope, key, fp, now=ctx.now(), lease_s=ctx.settings.idempotency_lease_s
    )
    if begun.outcome == "replay":
        assert begun.body is not None
        return _json(begun.status_code, begun.body, replayed=True)
    if begun.outcome == "mismatch":
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused with a different request",
            "this key was used for a request with another body or path; use a new key",
        )
    if begun.outcome == "in_flight":
        raise ProblemError(
            409,
            "idempotency-in-flight",
            "A request with this Idempotency-Key is still being processed",
            "retry after a moment; the first request's result will be replayed",
            headers={"Retry-After": "1"},
        )

    def run_keyed() -> tuple[int, dict[str, Any]]:
        with ctx.store.write() as db:
            try:
                status, doc = work(db)
            except ProblemError as exc:
                if exc.status >= 500:
                    raise
                status, doc = exc.status, exc.document(instance)
            ctx.store.complete_idempotent(db, scope, key, status, doc)
            return status, doc

    try:
        if before is not None:
            await before()
        status, doc = await run_in_threadpool(run_keyed)
    except BaseException:
        # Nothing was committed: free the key so the client's retry does the work.
        await run_in_threadpool(ctx.store.release_idempotent, scope, key)
        raise
    if after_commit is not None:
        after_commit(doc)
    return _json(status, doc)


def _json(status: int, doc: dict[str, Any], *, replayed: bool = False) -> JSONResponse:
    headers = {REPLAYED: "true"} if replayed else None
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(doc, status_code=status, headers=headers, media_type=media)

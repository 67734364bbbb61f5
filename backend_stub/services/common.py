"""What every service version shares: the context, wire formats, and idempotent writes."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
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
from backend_stub.store import IdempotencyBegun, Store, Tx
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


RFC3339_PATTERN = _RFC3339.pattern  # for request models whose field is such a time


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


Work = Callable[[Tx], tuple[int, dict[str, Any]]]


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
    unstored: frozenset[str] = frozenset(),
) -> JSONResponse:
    """Run ``work`` in one write transaction, at most once per (terminal, key).

    ``work`` returns (status, body) or raises :class:`ProblemError`; a 4xx problem is
    stored and replayed like a success, because the same request would fail the same
    way. The stored response is written in the same transaction as the work, so a crash
    can never leave a charge without its idempotency record.

    Without ``before``, the claim, the work and the stored response are one transaction
    (one commit per payment): a concurrent copy of the request waits for it and then
    replays its answer. ``before`` (awaitable factory, e.g. the test mode's slow payment)
    runs while the key is held in flight by a claim committed on its own, so a copy that
    comes meanwhile gets 409 instead of waiting; ``work`` then commits with the response.

    A problem whose type is in ``unstored`` (a refund's wrong approval PIN) is the exception: what
    ``work`` wrote commits (the approver's wrong-PIN count), the key is released in the same
    transaction, and the problem is answered, not stored, so the same request with the same key
    and a corrected PIN is worked anew.
    """
    instance = request.url.path
    refused: list[ProblemError] = []

    def attempt(db: Tx) -> tuple[int, dict[str, Any]]:
        refused.clear()  # PostgreSQL may run the transaction again
        try:
            return work(db)
        except ProblemError as exc:
            if exc.status >= 500:
                raise
            if exc.type in unstored:
                refused.append(exc)
            return exc.status, exc.document(instance)

    def keep(db: Tx, scope: str, key: str, status: int, doc: dict[str, Any]) -> None:
        if refused:
            Store.drop_idempotent(db, scope, key)
        else:
            ctx.store.complete_idempotent(db, scope, key, status, doc)

    if key is None:
        if before is not None:
            await before()
        status, doc = await run_in_threadpool(ctx.store.transaction, attempt)
        if refused:
            raise refused[0]
        if after_commit is not None:
            after_commit(doc)
        return _json(status, doc)

    scope = f"terminal:{terminal}"
    fp = fingerprint(request, body)
    now, lease = ctx.now(), ctx.settings.idempotency_lease_s

    if before is None:

        def claim_and_work(db: Tx) -> tuple[IdempotencyBegun, int, dict[str, Any]]:
            begun = ctx.store.claim_idempotent(db, scope, key, fp, now=now, lease_s=lease)
            if begun.outcome != "started":
                return begun, 0, {}
            status, doc = attempt(db)
            keep(db, scope, key, status, doc)
            return begun, status, doc

        begun, status, doc = await run_in_threadpool(ctx.store.transaction, claim_and_work)
        if refused:
            raise refused[0]
        if begun.outcome == "started":
            if after_commit is not None:
                after_commit(doc)
            return _json(status, doc)
        return _not_started(begun)

    begun = await run_in_threadpool(ctx.store.begin_idempotent, scope, key, fp, now=now, lease_s=lease)
    if begun.outcome != "started":
        return _not_started(begun)

    def run_keyed(db: Tx) -> tuple[int, dict[str, Any]]:
        status, doc = attempt(db)
        keep(db, scope, key, status, doc)
        return status, doc

    try:
        await before()
        status, doc = await run_in_threadpool(ctx.store.transaction, run_keyed)
    except BaseException:
        # Nothing was committed: free the key so the client's retry does the work.
        await run_in_threadpool(ctx.store.release_idempotent, scope, key)
        raise
    if refused:
        raise refused[0]
    if after_commit is not None:
        after_commit(doc)
    return _json(status, doc)


def _not_started(begun: IdempotencyBegun) -> JSONResponse:
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
    raise ProblemError(
        409,
        "idempotency-in-flight",
        "A request with this Idempotency-Key is still being processed",
        "retry after a moment; the first request's result will be replayed",
        headers={"Retry-After": "1"},
    )


def _json(status: int, doc: dict[str, Any], *, replayed: bool = False) -> JSONResponse:
    headers = {REPLAYED: "true"} if replayed else None
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(doc, status_code=status, headers=headers, media_type=media)

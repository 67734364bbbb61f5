"""payments v2: integer minor units, required Idempotency-Key, list/inquiry, refunds,
merchant-presented invoices and verified customer payloads (Bolt Card, wallet tokens)."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
import asyncio
import base64
import sqlite3
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.problems import ProblemError, ResponseDroppedError
from backend_stub.services.common import Context, idempotent_write, iso, new_id, parse_iso
from backend_stub.services.payments import core

DIGITS = r"^[0-9]{1,40}$"
Status = Literal["approved", "declined", "pending"]


class PaymentRequestV2(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quote_id: str = Field(min_length=1, max_length=64)
    reference: str = Field(min_length=1, max_length=64, description="the terminal's own sale reference")
    asset: str = Field(max_length=16)
    amount_minor: str = Field(pattern=DIGITS, description="crypto minor units as a string of digits")
    payload: str = Field(min_length=1, max_length=4096, description="what the customer presented")


class PaymentV2(BaseModel):
    payment_id: str
    reference: str
    quote_id: str
    status: str
    reason: str | None
    method: str
    asset: str
    amount_minor: str
    fiat_minor: int
    fiat_currency: str
    refunded_minor: str
    created_at: str
    updated_at: str


class PaymentListV2(BaseModel):
    items: list[PaymentV2]
    next_cursor: str | None


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_minor: str = Field(pattern=DIGITS)
    to: str = Field(min_length=1, max_length=512, description="the customer's receive address")


class Refund(BaseModel):
    refund_id: str
    payment_id: str
    amount_minor: str
    to: str
    status: str
    created_at: str


RequiredKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description="required on every write"),
]


def require_key(key: str | None) -> str:
    if not key:
        raise ProblemError(
            400,
            "idempotency-key-required",
            "Idempotency-Key header required",
            "every write to payments v2 carries an Idempotency-Key (e.g. a UUID per sale)",
        )
    return key


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def _uncursor(text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        return int(raw[1:])
    except ValueError:
        raise ProblemError(422, "invalid-parameter", "Invalid cursor", "use next_cursor as given") from None


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter()
    Terminal = Annotated[str, Depends(auth)]

    @r.post("/payments", status_code=201, response_model=PaymentV2)
    async def create_payment(
        body: PaymentRequestV2, request: Request, terminal: Terminal, idempotency_key: RequiredKey = None
    ) -> JSONResponse:
        key = require_key(idempotency_key)
        quote = await run_in_threadpool(lambda: core.load_quote(ctx.store.read(), body.quote_id))
        how = core.behaviour(ctx, body.payload, quote.fiat_minor)

        def work(db: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
            q = core.load_quote(db, body.quote_id)
            core.check_quote(ctx, q, asset=body.asset, amount_minor=int(body.amount_minor))
            core.check_reference(db, terminal=terminal, reference=body.reference)
            status, reason, method = how.status, how.reason, "card"
            row = core.insert_payment(
                db,
                ctx,
                terminal=terminal,
                reference=body.reference,
                q=q,
                method=method,
                status=status,
                reason=reason,
            )
            return 201, core.doc_v2(row)

        def dropped(doc: dict[str, Any]) -> None:
            if how.drop and "payment_id" in doc:
                raise ResponseDroppedError

        return await idempotent_write(
            ctx,
            request,
            terminal=terminal,
            key=key,
            body=body.model_dump(),
            work=work,
            before=(lambda: asyncio.sleep(ctx.settings.slow_s)) if how.slow else None,
            after_commit=dropped,
        )

    @r.get("/payments/{payment_id}", response_model=PaymentV2)
    async def get_payment(payment_id: str, terminal: Terminal) -> dict[str, Any]:
        row = await run_in_threadpool(
            lambda: core.load_payment(ctx.store.read(), payment_id, terminal=terminal)
        )
        return core.doc_v2(row)

    @r.get("/payments", response_model=PaymentListV2)
    async def list_payments(
        terminal: Terminal,
        reference: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
        status: Annotated[Status | None, Query()] = None,
        since: Annotated[
            str | None, Query(max_length=40, description="RFC 3339; created at or after")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        """Newest first. Status inquiry: ``?reference=R`` finds the terminal's own sale."""
        where, args = ["terminal_id = ?"], [terminal]
        if reference is not None:
            where.append("reference = ?")
            args.append(reference)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if since is not None:
            where.append("created_at >= ?")
            args.append(str(parse_iso(since)))
        if cursor is not None:
            where.append("seq < ?")
            args.append(str(_uncursor(cursor)))
        sql = f"SELECT * FROM payments WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"  # noqa: S608

        def find() -> list[sqlite3.Row]:
            return ctx.store.read().execute(sql, (*args, limit + 1)).fetchall()

        rows = await run_in_threadpool(find)
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [core.doc_v2(row) for row in rows],
            "next_cursor": _cursor(int(rows[-1]["seq"])) if more else None,
        }

    @r.post("/payments/{payment_id}/refunds", status_code=201, response_model=Refund)
    async def refund(
        payment_id: str,
        body: RefundRequest,
        request: Request,
        terminal: Terminal,
        idempotency_key: RequiredKey = None,
    ) -> JSONResponse:
        key = require_key(idempotency_key)

        def work(db: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
            p = core.load_payment(db, payment_id, terminal=terminal)
            if p["status"] != "approved":
                raise ProblemError(
                    409,
                    "payment-not-refundable",
                    "Only approved payments can be refunded",
                    f"payment {payment_id} is {p['status']}",
                )
            amount = int(body.amount_minor)
            left = int(p["amount_minor"]) - int(p["refunded_minor"])
            if amount <= 0 or amount > left:
                raise ProblemError(
                    422,
                    "refund-exceeds-payment",
                    "Refund amount not possible",
                    f"between 1 and {left} minor units of {p['asset']} can still be refunded",
                    refundable_minor=str(left),
                )
            core.check_refund_address(p["asset"], body.to)
            now = ctx.now()
            refund_id = new_id("rf")
            db.execute(
                "INSERT INTO refunds (refund_id, payment_id, amount_minor, to_address, status, created_at) "
                "VALUES (?, ?, ?, ?, 'completed', ?)",
                (refund_id, payment_id, str(amount), body.to, now),
            )
            db.execute(
                "UPDATE payments SET refunded_minor = ?, updated_at = ? WHERE payment_id = ?",
                (str(int(p["refunded_minor"]) + amount), now, payment_id),
            )
            return 201, {
                "refund_id": refund_id,
                "payment_id": payment_id,
                "amount_minor": str(amount),
                "to": body.to,
                "status": "completed",
                "created_at": iso(now),
            }

        return await idempotent_write(
            ctx, request, terminal=terminal, key=key, body=body.model_dump(), work=work
        )

    return r

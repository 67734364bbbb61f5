"""payments v1: decimal amounts in major units; Idempotency-Key optional (honoured when sent)."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
import asyncio
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.problems import ResponseDroppedError
from backend_stub.services.common import Context, idempotent_write, parse_major
from backend_stub.services.payments import core, methods
from terminal.domain.money import ASSETS


class PaymentRequestV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quote_id: str = Field(min_length=1, max_length=64)
    reference: str = Field(min_length=1, max_length=64, description="the terminal's own sale reference")
    asset: str = Field(max_length=16)
    amount: str = Field(description="crypto amount, decimal string in major units", max_length=40)
    payload: str = Field(min_length=1, max_length=4096, description="what the customer presented")


class PaymentV1(BaseModel):
    payment_id: str
    reference: str
    quote_id: str
    status: str
    reason: str | None
    asset: str
    amount: str
    fiat_amount: str
    fiat_currency: str
    created_at: str
    updated_at: str


class PaymentListV1(BaseModel):
    items: list[PaymentV1]


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter()
    Terminal = Annotated[str, Depends(auth)]

    @r.post("/payments", status_code=201, response_model=PaymentV1)
    async def create_payment(
        body: PaymentRequestV1, request: Request, terminal: Terminal, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        quote = await run_in_threadpool(
            lambda: core.load_quote(ctx.store.read(), body.quote_id, terminal=terminal)
        )
        how = core.behaviour(ctx, body.payload, quote.fiat_minor)

        def work(db: sqlite3.Connection) -> tuple[int, dict[str, Any]]:
            q = core.load_quote(db, body.quote_id, terminal=terminal)
            amount = parse_major(body.amount, ASSETS[q.asset])
            core.check_quote(ctx, q, asset=body.asset, amount_minor=amount.minor)
            core.check_reference(db, terminal=terminal, reference=body.reference)
            status, reason, method = methods.decide(db, ctx, payload=body.payload, quote=q, forced=how)
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
            return 201, core.doc_v1(row)

        def dropped(doc: dict[str, Any]) -> None:
            if how and how.drop and "payment_id" in doc:
                raise ResponseDroppedError

        return await idempotent_write(
            ctx,
            request,
            terminal=terminal,
            key=idempotency_key,
            body=body.model_dump(),
            work=work,
            before=(lambda: asyncio.sleep(ctx.settings.slow_s)) if how and how.slow else None,
            after_commit=dropped,
        )

    @r.get("/payments/{payment_id}", response_model=PaymentV1)
    async def get_payment(payment_id: str, terminal: Terminal) -> dict[str, Any]:
        row = await run_in_threadpool(
            lambda: core.load_payment(ctx.store.read(), payment_id, terminal=terminal)
        )
        return core.doc_v1(row)

    @r.get("/payments", response_model=PaymentListV1)
    async def find_payment(
        terminal: Terminal, reference: Annotated[str, Query(min_length=1, max_length=64)]
    ) -> dict[str, Any]:
        def find() -> list[sqlite3.Row]:
            return (
                ctx.store.read()
                .execute(
                    "SELECT * FROM payments WHERE terminal_id = ? AND reference = ?", (terminal, reference)
                )
                .fetchall()
            )

        return {"items": [core.doc_v1(row) for row in await run_in_threadpool(find)]}

    return r

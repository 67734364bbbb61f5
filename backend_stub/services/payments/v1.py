"""payments v1: decimal amounts in major units; Idempotency-Key optional (honoured when sent)."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.problems import PROBLEM_RESPONSES
from backend_stub.services.common import Context, parse_major
from backend_stub.services.payments import charges, core
from backend_stub.services.wire import IDEMPOTENCY_KEY, IDENTIFIER, DecimalString, SafeText
from backend_stub.store import Row
from terminal.domain.money import ASSETS


class PaymentRequestV1(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    quote_id: SafeText = Field(min_length=1, max_length=64)
    reference: SafeText = Field(min_length=1, max_length=64, description="the terminal's own sale reference")
    asset: SafeText = Field(min_length=1, max_length=16)
    amount: DecimalString = Field(description="crypto amount, decimal string in major units")
    payload: SafeText = Field(min_length=1, max_length=4096, description="what the customer presented")


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


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY)]
PaymentId = Annotated[str, Path(pattern=IDENTIFIER)]


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter(responses=PROBLEM_RESPONSES)
    Terminal = Annotated[str, Depends(auth)]
    # routes with an idempotency layer: an identical resend carrying a key is let through
    KeyedTerminal = Annotated[str, Depends(auth.keyed)]

    @r.post("/payments", status_code=201, response_model=PaymentV1)
    async def create_payment(
        body: PaymentRequestV1,
        request: Request,
        terminal: KeyedTerminal,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        return await charges.create(
            ctx,
            request,
            terminal=terminal,
            key=idempotency_key,
            body=body.model_dump(),
            amount_minor=lambda code: parse_major(body.amount, ASSETS[code]).minor,
            render=core.doc_v1,
        )

    @r.get("/payments/{payment_id}", response_model=PaymentV1)
    async def get_payment(payment_id: PaymentId, terminal: Terminal) -> dict[str, Any]:
        row = await run_in_threadpool(
            ctx.store.query, lambda db: core.load_payment(db, payment_id, terminal=terminal)
        )
        return core.doc_v1(row)

    @r.get("/payments", response_model=PaymentListV1)
    async def find_payment(
        terminal: Terminal, reference: Annotated[SafeText, Query(min_length=1, max_length=64)]
    ) -> dict[str, Any]:
        def find() -> list[Row]:
            return ctx.store.fetch_all(
                "SELECT * FROM payments WHERE terminal_id = ? AND reference = ?", (terminal, reference)
            )

        return {"items": [core.doc_v1(row) for row in await run_in_threadpool(find)]}

    return r

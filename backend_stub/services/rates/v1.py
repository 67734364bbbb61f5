"""rates v1: decimal strings in major units, unsigned quotes."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from backend_stub.auth import Authenticator
from backend_stub.problems import PROBLEM_RESPONSES
from backend_stub.services.common import Context, parse_major
from backend_stub.services.rates import core
from backend_stub.services.wire import DecimalString, SafeText


class QuoteRequestV1(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    fiat_amount: DecimalString = Field(description="decimal string in major units, e.g. '12.50'")
    fiat_currency: SafeText = Field(min_length=1, max_length=8, examples=["EUR"])
    asset: SafeText = Field(min_length=1, max_length=16, examples=["BTC"])


class QuoteV1(BaseModel):
    quote_id: str
    fiat_amount: str
    fiat_currency: str
    asset: str
    crypto_amount: str
    rate: str
    spread_bps: int
    issued_at: str
    expires_at: str


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter(responses=PROBLEM_RESPONSES)
    Terminal = Annotated[str, Depends(auth)]

    @r.post("/quotes", status_code=201, response_model=QuoteV1)
    async def create_quote(body: QuoteRequestV1, terminal: Terminal) -> dict[str, Any]:
        return await core.create(
            ctx,
            terminal=terminal,
            fiat_currency=body.fiat_currency,
            asset=body.asset,
            fiat=lambda currency: parse_major(body.fiat_amount, currency, what="fiat amount"),
            render=core.doc_v1,
        )

    return r

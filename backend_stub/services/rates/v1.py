"""rates v1: decimal strings in major units, unsigned quotes."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.services.common import Context, iso, parse_major
from backend_stub.services.rates import core
from terminal.domain.money import ASSETS


class QuoteRequestV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fiat_amount: str = Field(description="decimal string in major units, e.g. '12.50'", max_length=32)
    fiat_currency: str = Field(max_length=8, examples=["EUR"])
    asset: str = Field(max_length=16, examples=["BTC"])


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
    r = APIRouter()
    Terminal = Annotated[str, Depends(auth)]

    @r.post("/quotes", status_code=201, response_model=QuoteV1)
    async def create_quote(body: QuoteRequestV1, terminal: Terminal) -> dict[str, Any]:
        fiat_code, asset_code = core.check_pair(body.fiat_currency, body.asset, ctx)
        fiat = parse_major(body.fiat_amount, ASSETS[fiat_code], what="fiat amount")
        q = core.price(ctx, fiat, asset_code)
        doc = {
            "quote_id": q.quote_id,
            "fiat_amount": q.fiat.amount_str(),
            "fiat_currency": fiat_code,
            "asset": asset_code,
            "crypto_amount": q.crypto.amount_str(),
            "rate": str(q.rate),
            "spread_bps": q.spread_bps,
            "issued_at": iso(q.issued_at),
            "expires_at": iso(q.expires_at),
        }

        def store() -> None:
            with ctx.store.write() as db:
                core.save(db, q, terminal=terminal, doc=doc)

        await run_in_threadpool(store)
        return doc

    return r

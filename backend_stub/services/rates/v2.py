"""rates v2: integer minor units, fee and sources, quotes signed with Ed25519."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.services.common import Context, iso
from backend_stub.services.rates import core
from terminal.domain.money import ASSETS, Money


class QuoteRequestV2(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fiat_minor: int = Field(
        description="fiat amount in minor units (cents)", gt=0, le=10**15, examples=[1250]
    )
    fiat_currency: str = Field(max_length=8, examples=["EUR"])
    asset: str = Field(max_length=16, examples=["BTC"])


class Source(BaseModel):
    name: str
    rate: str
    at: str


class Signature(BaseModel):
    alg: str
    key_id: str
    value: str


class QuoteV2(BaseModel):
    quote_id: str
    fiat_minor: int
    fiat_currency: str
    asset: str
    crypto_minor: str = Field(description="crypto minor units as a string of digits")
    rate: str
    spread_bps: int
    fee_minor: int
    sources: list[Source]
    issued_at: str
    expires_at: str
    signature: Signature


class PublicKey(BaseModel):
    key_id: str
    alg: str
    public_key: str = Field(description="raw 32-byte Ed25519 public key, base64url without padding")
    jwk: dict[str, str]


class Keys(BaseModel):
    keys: list[PublicKey]


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter()
    Terminal = Annotated[str, Depends(auth)]

    @r.post("/quotes", status_code=201, response_model=QuoteV2)
    async def create_quote(body: QuoteRequestV2, terminal: Terminal) -> dict[str, Any]:
        fiat_code, asset_code = core.check_pair(body.fiat_currency, body.asset, ctx)
        q = core.price(ctx, Money(body.fiat_minor, ASSETS[fiat_code]), asset_code)
        doc = ctx.signer.sign(
            {
                "quote_id": q.quote_id,
                "fiat_minor": q.fiat.minor,
                "fiat_currency": fiat_code,
                "asset": asset_code,
                "crypto_minor": str(q.crypto.minor),
                "rate": str(q.rate),
                "spread_bps": q.spread_bps,
                "fee_minor": q.fee_minor,
                "sources": [{"name": s.name, "rate": str(s.rate), "at": iso(s.at)} for s in q.sources],
                "issued_at": iso(q.issued_at),
                "expires_at": iso(q.expires_at),
            }
        )

        def store() -> None:
            with ctx.store.write() as db:
                core.save(db, q, terminal=terminal, doc=doc)

        await run_in_threadpool(store)
        return doc

    @r.get("/keys", response_model=Keys)
    async def keys() -> dict[str, Any]:
        # Public key material: no signature needed, so anyone holding a receipt can check it.
        return {"keys": [ctx.signer.public_key_doc()]}

    return r

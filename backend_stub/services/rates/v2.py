"""rates v2: integer minor units, fee and sources, quotes signed with Ed25519."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from backend_stub.auth import Authenticator
from backend_stub.problems import PROBLEM_RESPONSES
from backend_stub.services.common import Context
from backend_stub.services.rates import core
from backend_stub.services.wire import FiatMinor, SafeText
from terminal.domain.money import Money


class QuoteRequestV2(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    fiat_minor: FiatMinor = Field(description="fiat amount in minor units (cents)", examples=[1250])
    fiat_currency: SafeText = Field(min_length=1, max_length=8, examples=["EUR"])
    asset: SafeText = Field(min_length=1, max_length=16, examples=["BTC"])


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
    r = APIRouter(responses=PROBLEM_RESPONSES)
    Terminal = Annotated[str, Depends(auth)]

    @r.post("/quotes", status_code=201, response_model=QuoteV2)
    async def create_quote(body: QuoteRequestV2, terminal: Terminal) -> dict[str, Any]:
        return await core.create(
            ctx,
            terminal=terminal,
            fiat_currency=body.fiat_currency,
            asset=body.asset,
            fiat=lambda currency: Money(body.fiat_minor, currency),
            render=lambda q: ctx.signer.sign(core.doc_v2(q)),
        )

    @r.get("/keys", response_model=Keys)
    async def keys() -> dict[str, Any]:
        # Public key material: no signature needed, so anyone holding a receipt can check it.
        return {"keys": [ctx.signer.public_key_doc()]}

    return r

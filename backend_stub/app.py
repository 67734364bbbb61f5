"""App factory of the emulated backend (walking skeleton: rates v1, payments v1, discovery)."""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from backend_stub.auth import verify_request
from backend_stub.problems import HANDLERS, ProblemError
from backend_stub.state import USD_PER_FIAT, BackendState, StoredPayment, StoredQuote
from terminal.domain.money import ASSETS, AmountError, AssetKind, Money, fiat_to_crypto

# Magic payloads of the test mode (documented in docs/backend.md): force an outcome.
TEST_OUTCOMES = {
    "cryptopos-test:card:approve": ("approved", None),
    "cryptopos-test:card:decline": ("declined", "card_declined"),
    "cryptopos-test:card:insufficient": ("declined", "insufficient_funds"),
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuoteRequestV1(_Body):
    fiat_amount: str = Field(description="decimal string in major units, e.g. '12.50'", max_length=32)
    fiat_currency: str = Field(max_length=8)
    asset: str = Field(max_length=16)


class PaymentRequestV1(_Body):
    quote_id: str = Field(max_length=64)
    reference: str = Field(min_length=1, max_length=64, description="the terminal's own sale reference")
    asset: str = Field(max_length=16)
    amount: str = Field(description="crypto amount, decimal string in major units", max_length=40)
    payload: str = Field(min_length=1, max_length=4096, description="what the customer presented")


def _quote_json(q: StoredQuote) -> dict[str, Any]:
    fiat = Money(q.fiat_minor, ASSETS[q.fiat_currency])
    crypto = Money(q.crypto_minor, ASSETS[q.asset])
    return {
        "quote_id": q.quote_id,
        "fiat_amount": fiat.amount_str(),
        "fiat_currency": q.fiat_currency,
        "asset": q.asset,
        "crypto_amount": crypto.amount_str(),
        "rate": str(q.rate),
        "spread_bps": q.spread_bps,
        "issued_at": iso(q.issued_at),
        "expires_at": iso(q.expires_at),
    }


def _payment_json(p: StoredPayment) -> dict[str, Any]:
    return {
        "payment_id": p.payment_id,
        "reference": p.reference,
        "quote_id": p.quote_id,
        "status": p.status,
        "reason": p.reason,
        "asset": p.asset,
        "amount": Money(p.crypto_minor, ASSETS[p.asset]).amount_str(),
        "fiat_amount": Money(p.fiat_minor, ASSETS[p.fiat_currency]).amount_str(),
        "fiat_currency": p.fiat_currency,
        "created_at": iso(p.created_at),
    }


def create_app(state: BackendState | None = None) -> FastAPI:
    state = state or BackendState()
    app = FastAPI(title="cryptopos backend (emulated)", version="0.1.0")
    for exc_type, handler in HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.state.backend = state

    async def authed(request: Request) -> str:
        return await verify_request(request, state)

    Terminal = Annotated[str, Depends(authed)]

    @app.get("/discovery")
    async def discovery() -> dict[str, Any]:
        return {
            "services": {
                "rates": {"versions": [{"version": "v1", "status": "stable"}]},
                "payments": {"versions": [{"version": "v1", "status": "stable"}]},
            }
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    rates = APIRouter(prefix="/rates/v1", tags=["rates v1"])

    @rates.post("/quotes", status_code=201)
    async def create_quote(body: QuoteRequestV1, terminal: Terminal) -> dict[str, Any]:
        fiat_code, asset_code = body.fiat_currency.upper(), body.asset.upper()
        fiat_asset, crypto_asset = ASSETS.get(fiat_code), ASSETS.get(asset_code)
        if fiat_asset is None or fiat_asset.kind is not AssetKind.FIAT or fiat_code not in USD_PER_FIAT:
            raise ProblemError(422, "unsupported-currency", "Unsupported fiat currency", body.fiat_currency)
        if crypto_asset is None or crypto_asset.kind is not AssetKind.CRYPTO:
            raise ProblemError(422, "unsupported-asset", "Unsupported asset", body.asset)
        try:
            fiat = Money.from_decimal(body.fiat_amount, fiat_asset)
        except AmountError as exc:
            raise ProblemError(422, "invalid-amount", "Invalid fiat amount", str(exc)) from None
        if fiat.minor <= 0:
            raise ProblemError(422, "invalid-amount", "Invalid fiat amount", "must be positive")
        mid = state.mid_rate(asset_code, fiat_code)
        rate = (mid * (1 - Decimal(state.spread_bps) / 10_000)).quantize(Decimal("0.0001"))
        crypto = fiat_to_crypto(fiat, crypto_asset, rate)
        now = state.clock()
        q = StoredQuote(
            state.next_id("q"),
            fiat.minor,
            fiat_code,
            asset_code,
            crypto.minor,
            rate,
            state.spread_bps,
            now,
            now + state.quote_ttl_s,
        )
        state.quotes[q.quote_id] = q
        return _quote_json(q)

    payments = APIRouter(prefix="/payments/v1", tags=["payments v1"])

    @payments.post("/payments", status_code=201)
    async def create_payment(
        body: PaymentRequestV1,
        terminal: Terminal,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> JSONResponse:
        fingerprint = hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()
        if idempotency_key:
            stored = state.idempotency.get(f"{terminal}:{idempotency_key}")
            if stored is not None:
                if stored[0] != fingerprint:
                    raise ProblemError(
                        422, "idempotency-mismatch", "Idempotency-Key reused with a different request"
                    )
                return JSONResponse(stored[2], status_code=stored[1], headers={"Idempotent-Replayed": "true"})
        q = state.quotes.get(body.quote_id)
        if q is None:
            raise ProblemError(404, "unknown-quote", "Unknown quote", body.quote_id)
        if state.clock() >= q.expires_at:
            raise ProblemError(409, "quote-expired", "Quote expired", f"quote {q.quote_id} expired")
        try:
            amount = Money.from_decimal(body.amount, ASSETS[q.asset])
        except AmountError as exc:
            raise ProblemError(422, "invalid-amount", "Invalid amount", str(exc)) from None
        if body.asset.upper() != q.asset or amount.minor != q.crypto_minor:
            raise ProblemError(
                422,
                "amount-mismatch",
                "Amount does not match the quote",
                f"quote {q.quote_id} is for {q.crypto_minor} minor units of {q.asset}",
            )
        if body.reference in state.by_reference:
            existing = state.payments[state.by_reference[body.reference]]
            raise ProblemError(
                409,
                "duplicate-reference",
                "A payment with this reference exists",
                payment_id=existing.payment_id,
            )
        status, reason = TEST_OUTCOMES.get(body.payload, ("approved", None))
        p = StoredPayment(
            state.next_id("pay"),
            body.reference,
            q.quote_id,
            q.asset,
            q.crypto_minor,
            q.fiat_minor,
            q.fiat_currency,
            status,
            reason,
            state.clock(),
            terminal,
        )
        state.payments[p.payment_id] = p
        state.by_reference[p.reference] = p.payment_id
        doc = _payment_json(p)
        if idempotency_key:
            state.idempotency[f"{terminal}:{idempotency_key}"] = (fingerprint, 201, doc)
        return JSONResponse(doc, status_code=201)

    @payments.get("/payments/{payment_id}")
    async def get_payment(payment_id: str, terminal: Terminal) -> dict[str, Any]:
        p = state.payments.get(payment_id)
        if p is None:
            raise ProblemError(404, "unknown-payment", "Unknown payment", payment_id)
        return _payment_json(p)

    @payments.get("/payments")
    async def find_payment(reference: str, terminal: Terminal) -> dict[str, Any]:
        pid = state.by_reference.get(reference)
        items = [_payment_json(state.payments[pid])] if pid else []
        return {"items": items}

    app.include_router(rates)
    app.include_router(payments)
    return app

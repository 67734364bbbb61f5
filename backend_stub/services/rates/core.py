"""Quoting, one piece of code for rates v1 and v2: validate, price from the feed, store.

The versions differ only on the wire: how the fiat amount is written (v1 a decimal string in
major units, v2 integer minor units) and how the quote is rendered (:func:`doc_v1`;
:func:`doc_v2`, which v2 signs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool

from backend_stub.feed import FeedError, SourcePrice, SourcesDivergeError, SourcesStaleError
from backend_stub.problems import ProblemError
from backend_stub.services.common import Context, iso, new_id
from backend_stub.store import Tx
from backend_stub.testmode import MAGIC_QUOTE_AMOUNTS
from terminal.domain.money import ASSETS, Asset, AssetKind, Money, MoneyError, fiat_to_crypto

RATE_QUANTUM = Decimal("0.0001")
RETRY_AFTER_S = 5


@dataclass(frozen=True, slots=True)
class PricedQuote:
    quote_id: str
    fiat: Money
    crypto: Money
    rate: Decimal
    spread_bps: int
    fee_minor: int
    sources: list[SourcePrice]
    issued_at: float
    expires_at: float


def check_pair(fiat_currency: str, asset: str, ctx: Context) -> tuple[str, str]:
    fiat_code, asset_code = fiat_currency.strip().upper(), asset.strip().upper()
    fiat_asset, crypto_asset = ASSETS.get(fiat_code), ASSETS.get(asset_code)
    if fiat_asset is None or fiat_asset.kind is not AssetKind.FIAT:
        known = ", ".join(sorted(c for c, a in ASSETS.items() if a.kind is AssetKind.FIAT))
        raise ProblemError(
            422,
            "unsupported-currency",
            "Unsupported fiat currency",
            f"{fiat_currency[:16]!r}; known: {known}",
        )
    if crypto_asset is None or crypto_asset.kind is not AssetKind.CRYPTO:
        known = ", ".join(sorted(c for c, a in ASSETS.items() if a.kind is AssetKind.CRYPTO))
        raise ProblemError(422, "unsupported-asset", "Unsupported asset", f"{asset[:16]!r}; known: {known}")
    if not ctx.feed.supports(asset_code, fiat_code):
        raise ProblemError(
            422, "unsupported-asset", "No rate for this pair", f"{asset_code}/{fiat_code} is not quoted"
        )
    return fiat_code, asset_code


def _refuse(exc: FeedError) -> ProblemError:
    slug = "rate-sources-stale" if isinstance(exc, SourcesStaleError) else "rate-sources-diverge"
    title = "Rate sources are stale" if isinstance(exc, SourcesStaleError) else "Rate sources disagree"
    return ProblemError(
        503,
        slug,
        title,
        str(exc),
        headers={"Retry-After": str(RETRY_AFTER_S)},
        sources=[{"name": p.name, "rate": str(p.rate), "at": p.at} for p in exc.sources],
    )


def price(ctx: Context, fiat: Money, asset_code: str) -> PricedQuote:
    """Price ``fiat`` in ``asset_code`` now, or raise a refusal problem."""
    if fiat.minor <= 0:
        raise ProblemError(422, "invalid-amount", "Invalid fiat amount", "must be greater than zero")
    if fiat.minor > fiat.asset.max_major * fiat.asset.scale:
        raise ProblemError(422, "invalid-amount", "Invalid fiat amount", "larger than this terminal takes")
    now = ctx.now()
    crypto_asset = ASSETS[asset_code]
    forced = MAGIC_QUOTE_AMOUNTS.get(fiat.minor) if ctx.settings.test_mode else None
    try:
        if forced == "rate-sources-stale":
            raise SourcesStaleError("test mode: magic amount forces stale sources", sources=[])
        if forced == "rate-sources-diverge":
            raise SourcesDivergeError("test mode: magic amount forces diverging sources", sources=[])
        mid, sources = ctx.feed.mid(asset_code, fiat.asset.code, now)
    except FeedError as exc:
        raise _refuse(exc) from None
    spread = ctx.settings.spread_bps
    rate = (mid * (1 - Decimal(spread) / 10_000)).quantize(RATE_QUANTUM, rounding=ROUND_DOWN)
    if rate <= 0:
        raise ProblemError(503, "rate-unavailable", "No usable rate", f"{asset_code}/{fiat.asset.code}")
    try:
        crypto = fiat_to_crypto(fiat, crypto_asset, rate)
    except MoneyError as exc:
        raise ProblemError(422, "invalid-amount", "Cannot convert this amount", str(exc)) from None
    if crypto.minor <= 0 or crypto.minor > crypto_asset.max_major * crypto_asset.scale:
        raise ProblemError(422, "invalid-amount", "Amount out of range", f"{crypto.minor} minor units")
    fee = -(-fiat.minor * ctx.settings.fee_bps // 10_000)
    return PricedQuote(
        new_id("q"), fiat, crypto, rate, spread, fee, sources, now, now + ctx.settings.quote_ttl_s
    )


def save(db: Tx, q: PricedQuote, *, terminal: str, doc: dict[str, object]) -> None:
    db.execute(
        "INSERT INTO quotes (quote_id, terminal_id, fiat_minor, fiat_currency, asset, crypto_minor, rate, "
        "spread_bps, fee_minor, issued_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            q.quote_id,
            terminal,
            q.fiat.minor,
            q.fiat.asset.code,
            q.crypto.asset.code,
            str(q.crypto.minor),
            str(q.rate),
            q.spread_bps,
            q.fee_minor,
            q.issued_at,
            q.expires_at,
            json.dumps(doc),
        ),
    )


async def create(
    ctx: Context,
    *,
    terminal: str,
    fiat_currency: str,
    asset: str,
    fiat: Callable[[Asset], Money],
    render: Callable[[PricedQuote], dict[str, Any]],
) -> dict[str, Any]:
    """Quote the amount ``fiat(currency)`` reads from the request, store and return ``render``'s doc."""
    fiat_code, asset_code = check_pair(fiat_currency, asset, ctx)
    q = price(ctx, fiat(ASSETS[fiat_code]), asset_code)
    doc = render(q)

    await run_in_threadpool(ctx.store.transaction, lambda db: save(db, q, terminal=terminal, doc=doc))
    return doc


def doc_v1(q: PricedQuote) -> dict[str, Any]:
    return {
        "quote_id": q.quote_id,
        "fiat_amount": q.fiat.amount_str(),
        "fiat_currency": q.fiat.asset.code,
        "asset": q.crypto.asset.code,
        "crypto_amount": q.crypto.amount_str(),
        "rate": str(q.rate),
        "spread_bps": q.spread_bps,
        "issued_at": iso(q.issued_at),
        "expires_at": iso(q.expires_at),
    }


def doc_v2(q: PricedQuote) -> dict[str, Any]:
    """Unsigned; v2 adds the signature over exactly this."""
    return {
        "quote_id": q.quote_id,
        "fiat_minor": q.fiat.minor,
        "fiat_currency": q.fiat.asset.code,
        "asset": q.crypto.asset.code,
        "crypto_minor": str(q.crypto.minor),
        "rate": str(q.rate),
        "spread_bps": q.spread_bps,
        "fee_minor": q.fee_minor,
        "sources": [{"name": s.name, "rate": str(s.rate), "at": iso(s.at)} for s in q.sources],
        "issued_at": iso(q.issued_at),
        "expires_at": iso(q.expires_at),
    }

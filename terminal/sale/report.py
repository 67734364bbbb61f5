"""What one sale is called and what is said about it when it ends: its reference, its
idempotency key and the :class:`SaleReport` a receipt or the CLI's JSON is made from."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from terminal.domain.money import Money


@dataclass
class SaleReport:
    """Everything a receipt or the CLI's JSON needs about one finished sale."""

    status: str  # approved | declined | expired | unknown | cancelled | failed | queued
    reference: str
    idempotency_key: str
    fiat: Money
    tip: Money | None = None  # inside ``fiat``
    crypto: Money | None = None
    rate: str | None = None
    quote_id: str | None = None
    quote_expires_at: float | None = None
    payment_id: str | None = None
    reason: str | None = None
    source: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    next_step: str | None = None  # what the merchant does now, when the result alone does not say

    def to_json(self) -> dict[str, Any]:
        from datetime import UTC, datetime

        return {
            "status": self.status,
            "payment_id": self.payment_id,
            "reference": self.reference,
            "idempotency_key": self.idempotency_key,
            "reason": self.reason,
            "fiat": {
                "amount": self.fiat.amount_str(),
                "minor": self.fiat.minor,
                "currency": self.fiat.asset.code,
            },
            "tip": None if self.tip is None else {"amount": self.tip.amount_str(), "minor": self.tip.minor},
            "crypto": None
            if self.crypto is None
            else {
                "amount": self.crypto.amount_str(),
                "minor": str(self.crypto.minor),
                "asset": self.crypto.asset.code,
            },
            "rate": self.rate,
            "quote_id": self.quote_id,
            "quote_expires_at": None
            if self.quote_expires_at is None
            else datetime.fromtimestamp(self.quote_expires_at, UTC).isoformat(timespec="milliseconds"),
            "source": self.source,
            "next_step": self.next_step,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


UNKNOWN_NEXT_STEP = (
    "run `cryptopos reconcile` when the backend answers: it asks about this sale and settles it "
    "(a running till does this by itself); do not take it again"
)


def unknown_in_words(detail: str | None) -> str:
    """An unknown outcome as a sentence: what is known, then why it is not known."""
    why = (detail or "no answer").removesuffix("; left to reconcile").rstrip(".")
    return (
        "The payment may have been charged: its answer was lost and the backend could not say "
        f"what became of it ({why})"
    )


def new_reference(terminal_id: str) -> str:
    return f"{terminal_id}-{int(time.time() * 1000):x}-{secrets.token_hex(4)}"


def idempotency_key_for(reference: str) -> str:
    """Derived from the journaled sale alone: the same on every retry, after a re-quote, after a
    restart, and when an offline sale is forwarded."""
    return hashlib.sha256(f"cryptopos-sale|{reference}".encode()).hexdigest()[:32]

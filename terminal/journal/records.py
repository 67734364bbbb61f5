"""What the journal hands out: its errors (drawn in :mod:`terminal.journal`) and its rows as
immutable records. Never a card's data: only a SHA-256 of what the customer presented."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from terminal.journal.schema import FINAL_STATES


class JournalError(Exception):
    pass


class JournalOpenError(JournalError):
    pass


class JournalDamagedError(JournalOpenError):
    """SQLite's ``quick_check`` failed: the file is damaged. Nothing is written to it; a copy
    is kept aside and the open sales that could still be read are listed for a person."""

    def __init__(self, message: str, *, copy: str | None, open_sales: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.copy = copy
        self.open_sales = open_sales


class SaleFinalError(JournalError):
    pass


class ReplayError(JournalError):
    def __init__(self, message: str, *, first_reference: str) -> None:
        super().__init__(message)
        self.first_reference = first_reference


@dataclass(frozen=True, slots=True)
class SaleRecord:
    reference: str
    idempotency_key: str
    fiat_minor: int
    fiat_currency: str
    asset: str
    crypto_minor: int | None
    quote_id: str | None
    payload_hash: str | None
    state: str
    payment_id: str | None
    reason: str | None
    created_at: float
    updated_at: float
    offline: int = 0
    queue_seq: int | None = None
    payload: str | None = None
    payload_kind: str | None = None
    submitted_at: float | None = None
    tip_minor: int | None = None  # part of fiat_minor
    rate: str | None = None  # the quote's rate, fiat per crypto unit, as the backend sent it

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True, slots=True)
class RefundRecord:
    idempotency_key: str
    payment_id: str
    reference: str | None
    amount_minor: int
    asset: str
    to_address: str
    state: str  # submitting | approved-ish status from the backend | unknown_outcome | failed
    refund_id: str | None
    detail: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    api: str
    deprecation: str
    sunset: str | None
    link: str | None
    first_seen: float


def payload_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()

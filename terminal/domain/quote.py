"""A locked quote: how much crypto a fiat amount costs, until when."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from terminal.domain.money import Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    quote_id: str
    fiat: Money
    crypto: Money
    rate: Decimal  # fiat major units per one crypto major unit, spread included
    spread_bps: int  # basis points added to the mid rate
    expires_at: float  # epoch seconds
    issued_at: float

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def seconds_left(self, now: float) -> float:
        return max(0.0, self.expires_at - now)

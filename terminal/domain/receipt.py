"""A sale's receipt as a value: what the screen shows, the printer prints and the file keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from terminal.domain.money import Money, MoneyFormat, plain_format


def receipt_link(payment_id: str | None, reference: str) -> str:
    """What the receipt's QR carries. No receipt page exists in the API yet: the ids a back
    office looks the payment up by."""
    return f"cryptopos:receipt?payment={payment_id or ''}&reference={reference}"


@dataclass(frozen=True, slots=True)
class Receipt:
    merchant: str
    terminal: str
    at: float
    status: str
    fiat: Money
    tip: Money | None
    crypto: Money | None
    rate: str | None
    quote_id: str | None
    payment_id: str | None
    reference: str
    link: str
    # how it is shown: the merchant's locale and time zone (terminal.display, [merchant])
    money: MoneyFormat = field(default=plain_format, compare=False, repr=False)
    zone: tzinfo = field(default=UTC, compare=False, repr=False)

    @property
    def sale(self) -> Money:
        """The amount before the tip."""
        return self.fiat - self.tip if self.tip is not None else self.fiat

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.at, self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    def text(self, *, width: int = 36) -> str:
        rows = [
            ("Time", self.when),
            ("Status", self.status.upper()),
            ("Amount", self.money(self.fiat)),
            *([("  incl. tip", self.money(self.tip))] if self.tip else []),
            *([("Paid", self.money(self.crypto, trim=True))] if self.crypto else []),
            *(
                [("Rate", f"{self.rate} {self.fiat.asset.code}/{self.crypto.asset.code}")]
                if self.crypto and self.rate
                else []
            ),
            ("Quote", self.quote_id or "-"),
            ("Payment", self.payment_id or "-"),
            ("Reference", self.reference),
        ]
        lines = [self.merchant.center(width), f"terminal {self.terminal}".center(width), "-" * width]
        key = max(len(k) for k, _ in rows)  # "  incl. tip" is the longest: no row may wrap
        lines += [
            f"{k:<{key}}{v:>{width - key}}" if len(v) <= width - key else f"{k}\n  {v}" for k, v in rows
        ]
        lines.append("-" * width)
        return "\n".join(lines) + "\n"

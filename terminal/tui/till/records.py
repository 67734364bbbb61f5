"""What the journal tells the cashier: the history, one sale's detail, the daily report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from terminal.domain.money import ASSETS, Money
from terminal.journal import SaleRecord
from terminal.staff.report import staff_totals
from terminal.tui.till.base import TillBase
from terminal.tui.updates import DailyReport, RegisterError


class Records(TillBase):
    def history(
        self, *, state: str | None = None, asset_code: str | None = None, text: str = ""
    ) -> list[SaleRecord]:
        records = self.journal.sales(states=(state,) if state else None)
        out = [
            r
            for r in records
            if (asset_code is None or r.asset == asset_code)
            and (not text or text.lower() in f"{r.reference} {r.payment_id or ''}".lower())
        ]
        return list(reversed(out))

    def detail(self, reference: str) -> tuple[SaleRecord, list[str]]:
        record = self.journal.get(reference)
        if record is None:
            raise RegisterError("No such sale", f"{reference} is not in the journal")
        return record, self.journal.events(reference)

    def daily_report(self, *, day: str | None = None) -> DailyReport:
        """Totals of one UTC day (default: today by the register's clock), from the journal."""
        day = day or datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")
        counts = dict.fromkeys(("approved", "declined", "expired", "cancelled", "unknown_outcome"), 0)
        totals: dict[str, Money] = {}
        by_asset: dict[str, Money] = {}
        for r in self.journal.sales():
            if datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d") != day:
                continue
            state = "approved" if r.state == "refunded" else r.state
            if state in counts:
                counts[state] += 1
            if state == "approved":
                fiat = Money(r.fiat_minor, ASSETS[r.fiat_currency])
                totals[r.fiat_currency] = totals.get(r.fiat_currency, Money(0, fiat.asset)) + fiat
                if r.crypto_minor is not None and r.asset in ASSETS:
                    c = Money(r.crypto_minor, ASSETS[r.asset])
                    by_asset[r.asset] = by_asset.get(r.asset, Money(0, c.asset)) + c
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        end = start + timedelta(days=1)
        return DailyReport(
            day,
            counts["approved"],
            counts["declined"],
            counts["expired"],
            counts["cancelled"],
            counts["unknown_outcome"],
            totals,
            by_asset,
            tuple(staff_totals(self.journal, since=start.timestamp(), until=end.timestamp())),
        )

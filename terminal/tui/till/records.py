"""What the journal tells the cashier: the history, one sale's detail, the daily Z-report."""

from __future__ import annotations

from datetime import date

from terminal.domain.zreport import DayWindow, ZReport
from terminal.journal import SaleRecord
from terminal.tui.till.base import TillBase
from terminal.tui.updates import RegisterError


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

    def daily_report(self, *, day: date | None = None) -> ZReport:
        """The Z-report of one UTC day (default: today by the register's clock): the same
        report as ``cryptopos report`` and the printed one, refunds included."""
        from terminal.reporting import read_z_report

        window = DayWindow.utc(day) if day is not None else DayWindow.utc_of(self.clock())
        return read_z_report(self.journal, window)

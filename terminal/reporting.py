"""The Z-report of a day read from the journal: the day's sales and refunds and what is still
unsettled, handed to the pure :func:`terminal.domain.zreport.z_report`. The CLI's ``report``,
the TUI's report screen and the printer all get their report here."""

from __future__ import annotations

from datetime import date

from terminal.config import Settings
from terminal.domain.zreport import DayWindow, ZReport, z_report
from terminal.journal import Journal


def business_day(settings: Settings, *, day: date | None = None, now: float) -> DayWindow:
    """The merchant's business day (``[merchant] timezone``): ``day``, or the one ``now`` is in."""
    zone = settings.merchant.zone()
    return DayWindow.zoned(day, zone) if day is not None else DayWindow.of(now, zone)


def read_z_report(journal: Journal, window: DayWindow) -> ZReport:
    return z_report(
        window,
        sales=journal.sales(since=window.start, until=window.end),
        refunds=journal.refunds(since=window.start, until=window.end),
        unsettled=journal.unsettled(),
        names={m.staff_id: m.name for m in journal.staff()},
    )

"""The Z-report of a day read from the journal: the day's sales and refunds and what is still
unsettled, handed to the pure :func:`terminal.domain.zreport.z_report`. The CLI's ``report``,
the TUI's report screen and the printer all get their report here."""

from __future__ import annotations

from terminal.domain.zreport import DayWindow, ZReport, z_report
from terminal.journal import Journal


def read_z_report(journal: Journal, window: DayWindow) -> ZReport:
    return z_report(
        window,
        sales=journal.sales(since=window.start, until=window.end),
        refunds=journal.refunds(since=window.start, until=window.end),
        unsettled=journal.unsettled(),
    )

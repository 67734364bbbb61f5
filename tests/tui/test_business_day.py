"""The till on the merchant's business day and in its locale: its report counts a late UTC
sale on the next Tokyo day, and its screens show money the German way."""

from __future__ import annotations

from datetime import UTC, datetime

from terminal.domain.session import State
from terminal.tui.screens.records import ReportScreen
from tests.tui.conftest import MakeTill
from tests.tui.helpers import screen_text, start_sale, until

LATE = datetime(2026, 3, 14, 22, 30, tzinfo=UTC).timestamp()  # 07:30 on the 15th in Tokyo


async def test_report_is_of_the_tokyo_day_in_german(make: MakeTill) -> None:
    till = make(extra={"merchant.timezone": "Asia/Tokyo", "merchant.locale": "de_DE"})
    till.clock.now = LATE
    till.register.touch()  # the cashier is at the till now (10.5 h after the harness signed her in)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till, amount="1234")
        assert "1.234,00 €" in screen_text(pilot)  # the quote screen's total
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        assert "1.234,00 €" in screen_text(pilot)  # the result
        await pilot.press("enter")
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        report = till.register.daily_report()
        assert (report.day, report.window.zone, report.count("approved")) == ("2026-03-15", "Asia/Tokyo", 1)
        till.clock.now = LATE - 8 * 3600  # 23:30 on the 14th in Tokyo: the day before
        assert till.register.daily_report().count("approved") == 0
        till.clock.now = LATE
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReportScreen))
        await until(pilot, lambda: "1.234,00 €" in screen_text(pilot))
        assert "Z-report 2026-03-15 (Asia/Tokyo)" in screen_text(pilot)

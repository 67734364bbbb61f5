"""Printing from the till: the print key (P) on the result, receipt, detail and report screens
sends the journaled receipt (or the Z-report) to a real TCP printer on loopback, whose bytes are
decoded back; printer faults are notices with a next step and never touch the sale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.pilot import Pilot

from terminal.domain.session import State
from terminal.tui.screens.amount import AmountScreen
from tests.printer.fake_printer import FakePrinter
from tests.printer.helpers import read_back
from tests.printer.test_printing import closed_port
from tests.tui.conftest import MakeTill
from tests.tui.harness import Till
from tests.tui.helpers import record_notifications, screen_text, start_sale, until

# BIP173's example P2WPKH address: a valid mainnet bech32 checksum, owned by nobody we know.
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
PAPER_OUT = {1: 0x1A, 2: 0x32, 4: 0x72}


@pytest.fixture
def printer() -> Iterator[FakePrinter]:
    with FakePrinter() as fp:
        yield fp


async def sell(pilot: Pilot[None], till: Till, key: str = "t", tip: str = "n") -> str:
    """A sale of 12.00 EUR (with ``tip``) ended by the demo key ``key``; on its result screen."""
    await start_sale(pilot, till, tip=tip)
    await pilot.press(key)
    await until(pilot, lambda: till.register.session.state in (State.APPROVED, State.DECLINED))
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "ResultScreen")
    return till.register.view.reference or ""


async def test_the_result_screens_print_key_prints_the_receipt_with_tip_rate_qr_and_cut(
    make: MakeTill, printer: FakePrinter
) -> None:
    till = make(extra={"printer.device": printer.device})
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        reference = await sell(pilot, till, tip="1")  # 10 %: 1.20 EUR
        view = till.register.view
        assert view.quote is not None and view.payment_id is not None
        rate = str(view.quote.rate)
        row = till.journal.get(reference)  # the TUI's face of the sale core journals both
        assert row is not None and (row.tip_minor, row.fiat_minor, row.rate) == (120, 1320, rate)
        await pilot.press("P")
        await until(pilot, lambda: len(printer.jobs) == 1)
        printed = read_back(printer.jobs[0])
        text = printed.lines
        assert "Demo Café" in text and "APPROVED" in [t.strip() for t in text]
        assert any(t.startswith("Sale") and t.endswith("12.00 EUR") for t in text)
        assert any(t.startswith("Tip") and t.endswith("1.20 EUR") for t in text)
        assert any(t.startswith("TOTAL") and t.endswith("13.20 EUR") for t in text)
        assert any(t.startswith("Paid") and t.endswith(view.quote.crypto.format(trim=True)) for t in text)
        assert any(t.startswith("Rate") and t.endswith(f"{rate} EUR/BTC") for t in text)
        assert any(t.endswith(view.payment_id) for t in text)
        assert printed.qr_codes == [f"cryptopos:receipt?payment={view.payment_id}&reference={reference}"]
        assert len(printed.cuts) == 1
        await until(pilot, lambda: any(title == "Printed" for title, _, _ in seen))
        assert printer.device in next(m for t, m, _ in seen if t == "Printed")
        # a reprint is the same key, and the same paper
        await pilot.press("P")
        await until(pilot, lambda: len(printer.jobs) == 2)
        # and from the receipt screen, and from the sale's detail in the history
        await pilot.press("p")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReceiptScreen")
        await pilot.press("P")
        await until(pilot, lambda: len(printer.jobs) == 3)
        await pilot.press("escape", "h")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HistoryScreen")
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "DetailScreen")
        await pilot.press("P")
        await until(pilot, lambda: len(printer.jobs) == 4)
        assert len(set(printer.jobs)) == 1
        assert till.journal.events(reference)[-1] == "approved"  # printing never touches the sale


async def test_a_refused_connection_is_a_notice_and_the_till_takes_the_next_sale(make: MakeTill) -> None:
    port = closed_port()
    till = make(extra={"printer.device": f"printer:net:127.0.0.1:{port}"})
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        first = await sell(pilot, till)
        await pilot.press("P")
        await until(pilot, lambda: any(title == "Printer not reachable" for title, _, _ in seen))
        [(_, message, severity)] = [n for n in seen if n[0] == "Printer not reachable"]
        assert severity == "error" and f"127.0.0.1:{port}" in message and "then print again" in message
        assert till.journal.events(first)[-1] == "approved"
        await pilot.press("enter")  # the next sale, as usual
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        second = await sell(pilot, till)
        assert second != first and till.register.session.state is State.APPROVED


async def test_paper_out_is_a_notice_and_printing_again_prints(make: MakeTill) -> None:
    with FakePrinter(PAPER_OUT) as printer:
        till = make(extra={"printer.device": printer.device})
        seen = record_notifications(till.app)
        async with till.app.run_test(size=(80, 24)) as pilot:
            reference = await sell(pilot, till, key="d")  # a declined sale has a receipt too
            await pilot.press("P")
            await until(pilot, lambda: any(title == "Printer paper out" for title, _, _ in seen))
            assert printer.wait_jobs(1) == [b""]  # asked for its status, sent nothing
            assert any("new paper roll" in m for t, m, _ in seen if t == "Printer paper out")
            printer.status = {1: 0x12, 2: 0x12, 4: 0x12}  # a new roll
            await pilot.press("P")
            await until(pilot, lambda: len(printer.jobs) == 2)
            printed = read_back(printer.jobs[1])
            assert "DECLINED" in [t.strip() for t in printed.lines] and len(printed.cuts) == 1
            assert till.journal.events(reference)[-1] == "declined"


async def test_printing_runs_off_the_screen_and_one_job_at_a_time(make: MakeTill) -> None:
    # a printer that never answers status: the driver waits a second for it, then prints
    with FakePrinter(answers=False) as printer:
        till = make(extra={"printer.device": printer.device})
        seen = record_notifications(till.app)
        async with till.app.run_test(size=(80, 24)) as pilot:
            await sell(pilot, till)
            await pilot.press("P", "P")
            await until(pilot, lambda: any(title == "Printer busy" for title, _, _ in seen))
            # the screen takes keys while the printer is being asked
            await pilot.press("enter", "7")
            screen = pilot.app.screen
            await until(pilot, lambda: isinstance(screen, AmountScreen) and screen.keypad.text == "7")
            assert printer.jobs == []
            await until(pilot, lambda: len(printer.jobs) == 1)
            assert read_back(printer.jobs[0]).qr_codes
            await pilot.pause(0.3)
            assert len(printer.jobs) == 1  # the second press was refused, not queued


async def test_the_report_screen_prints_the_z_report_with_refunds(
    make: MakeTill, printer: FakePrinter
) -> None:
    till = make(extra={"printer.device": printer.device})
    async with till.app.run_test(size=(80, 24)) as pilot:
        approved = await sell(pilot, till, tip="1")
        await pilot.press("enter")
        await sell(pilot, till, key="d")
        await pilot.press("enter")
        await till.register.refund(approved, to=ADDRESS, amount_minor=100)
        [refund] = till.journal.refunds()
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReportScreen")
        await pilot.press("P")
        await until(pilot, lambda: len(printer.jobs) == 1)
        text = read_back(printer.jobs[0]).lines
        assert "Z-REPORT" in [t.strip() for t in text] and "2026-03-14 (UTC)" in [t.strip() for t in text]
        assert any(t.startswith("approved x1") and t.endswith("13.20 EUR") for t in text)
        assert any(t.startswith("declined x1") and t.endswith("12.00 EUR") for t in text)
        assert any(t.startswith("tips") and t.endswith("1.20 EUR") for t in text)
        assert any(t.startswith(f"refund {refund.state} x1") and t.endswith("0.000001 BTC") for t in text)
        assert len(read_back(printer.jobs[0]).cuts) == 1
        # the screen shows the same report
        assert f"refund {refund.state}" in screen_text(pilot) and "1.20 EUR" in screen_text(pilot)


async def test_auto_print_prints_each_approved_sale_once(make: MakeTill, printer: FakePrinter) -> None:
    till = make(extra={"printer.device": printer.device, "printer.auto": True})
    async with till.app.run_test(size=(80, 24)) as pilot:
        reference = await sell(pilot, till)
        await until(pilot, lambda: len(printer.jobs) == 1)
        assert f"reference={reference}" in read_back(printer.jobs[0]).qr_codes[0]
        await pilot.press("enter")
        await sell(pilot, till, key="d")  # declined: printed only on demand
        await pilot.pause(0.5)
        assert len(printer.jobs) == 1

"""History with filters and detail, refund from the detail view, the daily report,
settings with doctor results, receipts saved as text and PNG."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from terminal.addresses import refund_destination
from terminal.client import BackendClient
from terminal.domain.money import Money, asset
from terminal.domain.payloads import parse_payload
from terminal.domain.session import State
from terminal.journal import Journal
from terminal.tui.screens.records import (
    DetailScreen,
    HistoryScreen,
    RefundScreen,
    ReportScreen,
    SettingsScreen,
)
from terminal.tui.till.refunds import DEMO_REFUND_ADDRESSES, REFUND_KINDS
from tests.tui.conftest import MakeTill
from tests.tui.harness import CASHIER, KEY_ID, MANAGER, MANAGER_PIN, SECRET, no_sleep
from tests.tui.helpers import approve, record_notifications, screen_text, start_sale, until

# BIP173's example P2WPKH address: a valid mainnet bech32 checksum, owned by nobody we know.
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


async def _sell(pilot, till, key: str, final: State) -> str:  # type: ignore[no-untyped-def]
    await start_sale(pilot, till)
    await pilot.press(key)
    await until(pilot, lambda: till.register.session.state is final)
    reference = till.register.view.reference or ""
    await pilot.press("enter")  # new sale
    await until(pilot, lambda: till.register.session.state is State.IDLE)
    return reference


async def test_history_filters_and_detail(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        approved = await _sell(pilot, till, "t", State.APPROVED)
        declined = await _sell(pilot, till, "d", State.DECLINED)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
        screen = pilot.app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.references == [declined, approved]  # newest first
        assert screen.query_one(DataTable).row_count == 2
        await pilot.press("f")  # state filter: approved
        assert screen.state_filter == "approved" and screen.references == [approved]
        await pilot.press("f")  # declined
        assert screen.references == [declined]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen))
        await until(pilot, lambda: "card_declined" in screen_text(pilot))
        text = screen_text(pilot)
        assert declined in text and "amount_entered → awaiting_payment → submitting → declined" in text


async def test_refund_on_a_v1_backend_says_what_is_missing(make: MakeTill) -> None:
    till = make()
    # a till pinned to payments v1, which has no refunds: the client says so, nothing is sent
    till.register._client = BackendClient(
        base_url="embedded",
        key_id=KEY_ID,
        secret=SECRET,
        transport=till.transport,
        clock=till.clock,
        api_version="v1",
        sleep=no_sleep,
        monotonic=till.clock,
    )
    async with till.app.run_test(size=(80, 24)) as pilot:
        approved = await _sell(pilot, till, "t", State.APPROVED)
        await _refund_screen(pilot, till, approved, ADDRESS)
        await approve(pilot, MANAGER, MANAGER_PIN)
        await until(pilot, lambda: "Refunds not available" in screen_text(pilot))
        record = till.journal.get(approved)
        assert record is not None and record.state == "approved"
        [refund] = till.journal.refunds()
        assert refund.state == "failed" and refund.refund_id is None
        assert not any("refund" in r for r in till.transport.requests)
        assert not till.backend.store.fetch_all("SELECT * FROM refunds")


async def test_refund_of_a_declined_sale_is_refused(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        declined = await _sell(pilot, till, "d", State.DECLINED)
        pilot.app.push_screen(RefundScreen(declined))
        await until(pilot, lambda: isinstance(pilot.app.screen, RefundScreen))
        await pilot.press("x", "enter")
        await until(pilot, lambda: "Cannot refund" in screen_text(pilot))
        assert till.journal.events(declined)[-1] == "declined"


async def test_daily_report_is_the_z_report_with_refunds(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        approved = await _sell(pilot, till, "t", State.APPROVED)
        await _sell(pilot, till, "d", State.DECLINED)
        await till.register.refund(approved, to=ADDRESS, amount_minor=100, approver=MANAGER, pin=MANAGER_PIN)
        report = till.register.daily_report()
        assert (report.count("approved"), report.count("declined"), report.open) == (1, 1, 0)
        assert report.sales["approved"].fiat["EUR"].minor == 1200
        paid = till.journal.sales(states=("approved",))[0].crypto_minor
        assert report.sales["approved"].crypto["BTC"].amount == Money(paid or 0, asset("BTC"))
        [(key, refund)] = report.refunds.items()
        assert key[1] == "BTC" and (refund.count, refund.amount.minor) == (1, 100)
        by = {t.staff_id: t for t in report.staff}  # the signed-in cashier sold and asked
        assert (by[CASHIER].sales, by[CASHIER].refunds, by[MANAGER].approvals) == (1, 1, 1)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReportScreen))
        await until(pilot, lambda: "12.00 EUR" in screen_text(pilot))
        text = screen_text(pilot)
        assert "Z-report 2026-03-14 (UTC), terminal t_test_01" in text
        assert f"refund {key[0]}" in text and "0.000001 BTC" in text
        assert "Cass Cashier (s_cas)" in text and "Max Manager (s_max)" in text


async def test_settings_show_effective_config_and_doctor(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await until(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen))
        await until(pilot, lambda: "✔ backend" in screen_text(pilot))
        text = screen_text(pilot)
        assert "terminal.readers" in text and "sim:nfc?count=0" in text
        assert "signing.secret" in text and "test-secret" not in text  # masked
        assert "✔ journal" in text and "✔ reader sim:qr?count=0" in text
        till.transport.down = True
        await pilot.press("d")
        await until(pilot, lambda: "✖ backend" in screen_text(pilot))
        assert till.register.backend.connected is False


async def test_receipt_saved_as_text_and_png(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ResultScreen")
        await pilot.press("p")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReceiptScreen")
        await pilot.press("s")
        reference = till.register.view.reference or ""
        text_file = till.app.receipts_dir / f"{reference}.txt"
        await until(pilot, text_file.exists)
        text = text_file.read_text()
        view = till.register.view
        assert view.quote is not None and view.payment_id is not None
        for needle in ("Demo Café", "12.00 EUR", view.quote.quote_id, view.payment_id, str(view.quote.rate)):
            assert needle in text
        assert "2026-03-14 12:00:00 UTC" in text  # the till's (fixed) clock
        png = text_file.with_suffix(".png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def journaled_refund(journal: Journal, reference: str) -> str | None:
    """Where the journal's refunds table says the sale was refunded to."""
    done = [r for r in journal.refunds() if r.reference == reference and r.refund_id]
    return done[-1].to_address if done else None


async def _refund_screen(pilot, till, reference: str, address: str) -> RefundScreen:  # type: ignore[no-untyped-def]
    await pilot.press("h")
    await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
    await pilot.press("enter", "f")
    await until(pilot, lambda: isinstance(pilot.app.screen, RefundScreen))
    screen = pilot.app.screen
    assert isinstance(screen, RefundScreen) and screen.reference == reference
    screen.query_one(Input).value = address
    await pilot.press("enter")
    return screen


async def test_refund_to_the_scanned_address_is_journaled(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        approved = await _sell(pilot, till, "t", State.APPROVED)
        await _refund_screen(pilot, till, approved, ADDRESS)
        await approve(pilot, MANAGER, MANAGER_PIN)
        await until(pilot, lambda: "✔ refund" in screen_text(pilot))
        record = till.journal.get(approved)
        assert record is not None and journaled_refund(till.journal, approved) == ADDRESS
        [refund] = [dict(r) for r in till.backend.store.fetch_all("SELECT * FROM refunds")]
        assert refund["payment_id"] == record.payment_id and refund["to_address"] == ADDRESS
        assert int(refund["amount_minor"]) == record.crypto_minor


async def test_refund_address_is_checked_before_anything_is_sent(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        approved = await _sell(pilot, till, "t", State.APPROVED)  # paid in BTC
        screen = await _refund_screen(pilot, till, approved, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
        await until(pilot, lambda: "Address does not fit" in screen_text(pilot))
        screen.query_one(Input).value = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"  # one character off
        await pilot.press("enter")
        await until(pilot, lambda: "Address not valid" in screen_text(pilot))
        assert till.journal.events(approved)[-1] == "approved"
        assert not any("refund" in r for r in till.transport.requests)


async def test_refund_address_scanned_by_the_camera(make: MakeTill) -> None:
    # the camera reads the customer's receive address: during the sale it is refused as a
    # payment (it asks to receive money), on the refund screen it fills the address
    till = make(readers=("sim:nfc?count=0", f"sim:qr?payload={ADDRESS}&delay=0.05"))
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: any(title == "Not a payment code" for title, _, _ in seen))
        assert till.register.session.state is State.AWAITING_PAYMENT
        approved = await _sell_now(pilot, till)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
        await pilot.press("enter", "f")
        await until(pilot, lambda: isinstance(pilot.app.screen, RefundScreen))
        await pilot.press("f2")
        screen = pilot.app.screen
        assert isinstance(screen, RefundScreen)
        await until(pilot, lambda: screen.query_one(Input).value == ADDRESS)
        await pilot.press("enter")
        await approve(pilot, MANAGER, MANAGER_PIN)
        await until(pilot, lambda: "✔ refund" in screen_text(pilot))
        record = till.journal.get(approved)
        assert record is not None and journaled_refund(till.journal, approved) == ADDRESS
        [refund] = [dict(r) for r in till.backend.store.fetch_all("SELECT * FROM refunds")]
        assert refund["to_address"] == ADDRESS


async def _sell_now(pilot, till) -> str:  # type: ignore[no-untyped-def]
    await pilot.press("t")
    await until(pilot, lambda: till.register.session.state is State.APPROVED)
    reference = till.register.view.reference or ""
    await pilot.press("enter")
    await until(pilot, lambda: till.register.session.state is State.IDLE)
    return reference


async def test_refund_scan_in_the_demo_ends_and_the_demo_customer_can_show_an_address(make: MakeTill) -> None:
    # the demo's readers present nothing by themselves: a scan used to wait forever
    till = make()
    till.app.refund_scan_s = 0.3
    async with till.app.run_test(size=(100, 30)) as pilot:
        approved = await _sell(pilot, till, "t", State.APPROVED)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
        await pilot.press("enter", "f")
        await until(pilot, lambda: isinstance(pilot.app.screen, RefundScreen))
        await pilot.press("f2")
        await until(pilot, lambda: "Scanning for 0 s" in screen_text(pilot))
        await until(pilot, lambda: "Nothing scanned in 0 s" in screen_text(pilot))
        assert pilot.app._refund_scan is None  # the readers were stopped
        await pilot.press("f2")  # scanning again works, and the demo customer shows their QR
        await pilot.press("f3")
        screen = pilot.app.screen
        assert isinstance(screen, RefundScreen)
        await until(pilot, lambda: screen.query_one(Input).value == DEMO_REFUND_ADDRESSES["BTC"])
        await pilot.press("enter")
        await approve(pilot, MANAGER, MANAGER_PIN)  # money out: a manager's PIN
        await until(pilot, lambda: "✔ refund" in screen_text(pilot))
        assert journaled_refund(till.journal, approved) == DEMO_REFUND_ADDRESSES["BTC"]


async def test_the_demo_address_key_exists_only_in_the_demo(make: MakeTill) -> None:
    till = make(demo=False, readers=("sim:nfc?payload=cryptopos-test:card:approve&delay=0.05",))
    async with till.app.run_test(size=(100, 30)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        await pilot.press("enter")
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        pilot.app.push_screen(RefundScreen(till.register.view.reference or "x"))
        await until(pilot, lambda: isinstance(pilot.app.screen, RefundScreen))
        assert till.register.demo_refund_device("x") is None
        await pilot.press("f3")
        await pilot.pause()
        assert pilot.app.screen.query_one(Input).value == ""
        assert "Demo: customer" not in screen_text(pilot)


@pytest.mark.parametrize(("code", "address"), sorted(DEMO_REFUND_ADDRESSES.items()))
def test_each_demo_refund_address_can_receive_its_asset(code: str, address: str) -> None:
    assert parse_payload(address, now=0).kind in REFUND_KINDS[code]
    assert refund_destination(address, asset(code))  # the CLI's check agrees

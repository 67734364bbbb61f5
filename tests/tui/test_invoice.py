"""The merchant-presented invoice (the backend's payments-v2 invoices): drawn in half blocks,
decodable from a PNG of an 80×24 screen, paid by the customer's wallet, partial payments shown."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

from drivers import CodeScanned, ReaderError, ReaderEvent, open_reader
from terminal.domain.payloads.bitcoin import parse_bitcoin_uri
from terminal.domain.session import State
from terminal.tui.pictures import svg_to_png
from terminal.tui.screens.sale import WaitingScreen
from terminal.tui.widgets.qr import QrCode, compact_forms, qr_size
from tests.tui.conftest import MakeTill
from tests.tui.helpers import sign_in, start_sale, until
from tests.tui.invoices import BackendInvoiceDesk

pytest.importorskip("cv2", reason="the camera extra reads the picture")


def _decode(png: Path) -> list[str]:
    """Show the picture to the project's own camera reader (OpenCV capture + its QR decoder)."""
    events: queue.Queue[ReaderEvent] = queue.Queue()
    reader = open_reader(f"camera:image:{png}")
    reader.start(events.put)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                event = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if isinstance(event, CodeScanned):
                return [event.payload]
            if isinstance(event, ReaderError):
                raise AssertionError(f"{event.title}: {event.message}")
        return []
    finally:
        reader.stop()


async def test_invoice_qr_decodes_from_a_png_of_the_80x24_screen(make: MakeTill) -> None:
    till = make(invoices=BackendInvoiceDesk)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.view.invoice is not None)
        await until(pilot, lambda: isinstance(pilot.app.screen, WaitingScreen))
        invoice = till.register.view.invoice
        assert invoice is not None and invoice.kind == "bip21"
        qr = pilot.app.screen.query_one("#invoice-qr", QrCode)
        await until(pilot, lambda: bool(qr.display and qr.data))
        # the backend's URI carries a label: at 80×24 the till draws the compact form
        assert qr_size(invoice.uri)[1] > 21 and qr.data == compact_forms(invoice.uri)[-1]
        await pilot.pause()
        png = svg_to_png(pilot.app.export_screenshot(), till.register.settings.journal.path.parent / "w.png")
        [decoded] = _decode(png)
        assert decoded == qr.data
        shown, issued = parse_bitcoin_uri(decoded), parse_bitcoin_uri(invoice.uri)
        assert shown.address == issued.address and shown.amount_sat == issued.amount_sat
        quote = till.register.view.quote
        assert quote is not None and shown.amount_sat == quote.crypto.minor


async def test_invoice_paid_by_the_wallet_approves_the_sale(make: MakeTill) -> None:
    till = make(invoices=BackendInvoiceDesk)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.view.invoice is not None)
        invoice = till.register.view.invoice
        desk = till.register.invoices
        assert invoice is not None and isinstance(desk, BackendInvoiceDesk)
        paid = await desk.pay(invoice.invoice_id)
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None
        assert record.state == "approved" and record.payment_id == paid["payment_id"]
        assert till.journal.events(record.reference)[-2:] == ["submitting", "approved"]
        assert till.register.view.source == "invoice"
        payment = till.backend.payment(paid["payment_id"])
        assert payment["status"] == "approved" and payment["reference"] == f"{record.reference}-inv1"
        # the terminal submitted nothing itself: the wallet paid the invoice
        assert not any(r.startswith("POST /payments/v1/payments") for r in till.transport.requests)


async def test_a_partial_payment_keeps_the_sale_waiting_and_says_so(make: MakeTill) -> None:
    till = make(invoices=BackendInvoiceDesk)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.view.invoice is not None)
        invoice = till.register.view.invoice
        desk = till.register.invoices
        assert invoice is not None and isinstance(desk, BackendInvoiceDesk)
        await desk.pay(invoice.invoice_id, short_by=1000)
        await until(pilot, lambda: (till.register.view.invoice or invoice).status == "partially_paid")
        assert till.register.session.state is State.AWAITING_PAYMENT
        note = pilot.app.screen.query_one("#qr-note")
        await until(pilot, lambda: "partially_paid" in str(note.render()))
        # the customer taps a card instead: its payment does not collide with the invoice's
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None and record.state == "approved"


async def test_a_larger_invoice_asks_for_room_instead_of_drawing_a_broken_code(make: MakeTill) -> None:
    till = make(invoices=BackendInvoiceDesk)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till, asset="2")  # BTC-LN: a BOLT11 invoice
        await until(pilot, lambda: till.register.view.invoice is not None)
        await until(pilot, lambda: isinstance(pilot.app.screen, WaitingScreen))
        screen = pilot.app.screen
        assert isinstance(screen, WaitingScreen)
        invoice = till.register.view.invoice
        assert invoice is not None and invoice.kind == "bolt11"
        assert qr_size(invoice.uri)[1] > 21  # more rows than 80×24 leaves
        qr = screen.query_one("#invoice-qr", QrCode)
        await until(pilot, lambda: "enlarge the window" in str(screen.query_one("#qr-note").render()))
        assert not qr.display
        note = str(screen.query_one("#qr-note").render()).replace("\n", "")
        assert invoice.uri in note  # the link is still there to read out
        await pilot.resize_terminal(120, 50)
        await until(pilot, lambda: qr.display and qr.data == invoice.uri)


async def test_the_demo_till_issues_invoices_and_its_card_through_its_own_client(tmp_path: Path) -> None:
    # what `make demo` builds: the embedded backend, the client's invoice desk, the demo card
    # issued through the client's signed requests; no test desk, no second signer
    from terminal.client import BackendClient
    from terminal.config import load_settings
    from terminal.tui import DEMO_READERS, build_app
    from terminal.tui.invoices import ClientInvoiceDesk

    loaded = load_settings(
        file=None,
        env={},
        overrides={
            "backend.url": ("embedded", "test"),
            "terminal.readers": (list(DEMO_READERS), "test"),
            "journal.path": (str(tmp_path / "journal.sqlite3"), "test"),
        },
    )
    from terminal.staff.demo import DemoStaff

    staff = DemoStaff(cashier_pin="4826")
    app = build_app(loaded, demo=True, demo_staff=staff)
    register = app.register
    assert isinstance(register.invoices, ClientInvoiceDesk)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: register.backend.connected is True, timeout=20)
            assert "4826" in app.staff_hint  # the demo shows its PINs under the sign-in screen
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "SignInScreen")
            hint = pilot.app.screen.query_one("#signin-hint")
            assert "4826" in str(hint.render())
            # on the screen at 80x24, not pushed below the footer by the PIN pad
            assert hint.region.height == 1 and hint.region.bottom <= 23, hint.region
            await sign_in(pilot, staff.cashier_id, "4826")
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
            client = register.client
            assert isinstance(client, BackendClient)
            assert register.backend.api_version == client.api_version == "v2"
            await pilot.press("1", "2", "enter")
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "TipScreen")
            await pilot.press("n")
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "AssetScreen")
            await pilot.press("2")  # BTC-LN: a Bolt Card pays over Lightning only (decisions.md)
            await until(pilot, lambda: register.view.invoice is not None, timeout=10)
            invoice = register.view.invoice
            assert invoice is not None and invoice.kind == "bolt11" and invoice.uri.startswith("lnbc")
            fresh = await client.get_invoice(invoice.invoice_id)
            quote = register.view.quote
            assert quote is not None
            assert fresh.status == "pending" and fresh.amount_minor == quote.crypto.minor
            await pilot.press("b")  # the demo Bolt Card, issued to the backend when the till connected
            await until(pilot, lambda: register.session.state is State.APPROVED, timeout=10)
            record = register.journal.get(register.view.reference or "")
            assert record is not None and record.state == "approved"
    finally:
        register.journal.close()

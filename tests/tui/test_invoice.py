"""The merchant-presented invoice: drawn in half blocks, decodable from a PNG of an 80×24
screen, and paid by the customer's wallet."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from terminal.domain.session import State
from terminal.tui.pictures import svg_to_png
from terminal.tui.screens.sale import WaitingScreen
from terminal.tui.widgets.qr import qr_size
from tests.tui.conftest import MakeTill
from tests.tui.helpers import start_sale, until
from tests.tui.invoices import EmulatedInvoiceDesk

zxingcpp = pytest.importorskip("zxingcpp", reason="the camera extra (zxing-cpp) decodes the picture")
Image = pytest.importorskip("PIL.Image")


def _decode(png: Path) -> list[str]:
    with Image.open(png) as picture:
        return [r.text for r in zxingcpp.read_barcodes(picture.convert("L"))]


async def test_invoice_qr_decodes_from_a_png_of_the_80x24_screen(make: MakeTill) -> None:
    till = make(invoices=EmulatedInvoiceDesk)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.view.invoice is not None)
        await until(pilot, lambda: isinstance(pilot.app.screen, WaitingScreen))
        invoice = till.register.view.invoice
        assert invoice is not None and invoice.uri.startswith("bitcoin:")
        cols, rows = qr_size(invoice.uri)
        assert rows <= 21 and cols <= 41  # fits between the status line and the footer
        await until(pilot, lambda: pilot.app.screen.query_one("#invoice-qr").display)
        await pilot.pause()
        png = svg_to_png(
            pilot.app.export_screenshot(), till.register.settings.journal.path.parent / "waiting.png"
        )
        assert _decode(png) == [invoice.uri]


async def test_invoice_paid_by_the_wallet_approves_the_sale(make: MakeTill) -> None:
    till = make(invoices=EmulatedInvoiceDesk)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.view.invoice is not None)
        invoice = till.register.view.invoice
        assert invoice is not None
        desk = till.register.invoices
        assert isinstance(desk, EmulatedInvoiceDesk)
        payment_id = desk.pay(invoice.invoice_id)
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None
        assert record.state == "approved" and record.payment_id == payment_id
        assert till.journal.events(record.reference)[-2:] == ["submitting", "approved"]
        assert till.register.view.source == "invoice"
        # the terminal submitted nothing itself: the wallet paid the invoice
        assert "POST /payments/v1/payments" not in till.transport.requests


async def test_a_larger_invoice_asks_for_room_instead_of_drawing_a_broken_code(make: MakeTill) -> None:
    till = make(invoices=EmulatedInvoiceDesk)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.view.invoice is not None)
        await until(pilot, lambda: isinstance(pilot.app.screen, WaitingScreen))
        screen = pilot.app.screen
        assert isinstance(screen, WaitingScreen)
        # an EIP-681-sized invoice needs more rows than 80×24 has
        invoice = till.register.view.invoice
        assert invoice is not None
        usdc, shop = (
            "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        )
        big = replace(
            invoice, uri=f"ethereum:{usdc}@1/transfer?address={shop}&uint256=13520000", kind="eip681"
        )
        assert qr_size(big.uri)[1] > 22
        till.register._publish(invoice=big)
        await until(pilot, lambda: not screen.query_one("#invoice-qr").display)
        note = str(screen.query_one("#qr-note").render())
        assert "enlarge the window" in note and big.uri in note.replace("\n", "")
        await pilot.resize_terminal(120, 50)
        await until(pilot, lambda: screen.query_one("#invoice-qr").display)

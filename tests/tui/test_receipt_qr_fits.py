"""The receipt screen's QR is whole on an 80×24 terminal, beside the receipt text."""

from __future__ import annotations

from terminal.domain.receipt import receipt_link
from terminal.domain.session import State
from terminal.tui.widgets.qr import QrCode, qr_size
from tests.tui.conftest import MakeTill
from tests.tui.helpers import start_sale, until

# ids shaped as the shipped terminal's are: a reference of terminal id, time and random part
LONG_LINK = receipt_link("pay_71bf2ce95744f6adf490", "t_demo_01-1a22393f28e-b7ded6e6")


def test_a_real_sized_receipt_link_fits_beside_the_receipt_at_80_columns() -> None:
    assert qr_size(LONG_LINK, "M")[0] + 38 > 80  # what cut it
    assert qr_size(LONG_LINK, "L")[0] + 38 <= 80


async def test_the_receipt_qr_is_not_cut_at_80_columns(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ResultScreen")
        await pilot.press("p")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReceiptScreen")
        qr = pilot.app.screen.query_one("#receipt-qr", QrCode)
        qr.show(LONG_LINK)  # the harness's ids are shorter than a real terminal's
        await pilot.pause()
        cols, rows = qr_size(LONG_LINK, qr.correction)
        pane = pilot.app.screen.query_one("#receipt-qr-pane")
        assert qr.region.width == cols and qr.region.height == rows
        assert qr.region.right <= pane.region.right <= 80
        assert qr.region.bottom <= 24

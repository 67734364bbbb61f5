"""The till in each currency exponent (JPY 0, EUR 2, KWD 3): the keypad, a tip, a paid sale,
the receipt and the day's report, against the emulated backend."""

from __future__ import annotations

import pytest

from terminal.domain.money import ASSETS, Money
from terminal.domain.session import State
from terminal.tui.screens.records import ReceiptScreen, ReportScreen
from tests.tui.conftest import MakeTill
from tests.tui.helpers import screen_text, until

# (currency, keys typed, what the keypad shows, base minor, 10% tip minor)
CASES = [
    ("JPY", "1.005", "1,005", 1005, 101),  # the point is refused: yen have no decimals
    ("EUR", "12.505", "12.50", 1250, 125),  # a third decimal is refused
    ("KWD", "4.1255", "4.125", 4125, 413),
]


@pytest.mark.parametrize(("currency", "keys", "shown", "base", "tip"), CASES)
async def test_a_sale_in_each_currency(
    make: MakeTill, currency: str, keys: str, shown: str, base: int, tip: int
) -> None:
    till = make(extra={"terminal.fiat_currency": currency})
    fiat = ASSETS[currency]
    total = Money(base + tip, fiat)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*keys)
        assert f"{shown} {currency}" in screen_text(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "TipScreen")
        assert f"10%  = {Money(tip, fiat).format()}" in screen_text(pilot)
        await pilot.press("1")  # 10%
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "AssetScreen")
        await pilot.press("1")
        await until(pilot, lambda: till.register.session.state is State.AWAITING_PAYMENT)
        assert total.format() in screen_text(pilot)
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        reference = till.register.view.reference or ""
        record = till.journal.get(reference)
        assert record is not None and (record.fiat_minor, record.fiat_currency) == (base + tip, currency)
        quoted = till.backend.payment(till.register.view.payment_id or "")
        assert quoted["status"] == "approved"
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ResultScreen")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReceiptScreen))
        text = screen_text(pilot)
        assert total.format() in text
        assert f"incl. tip{Money(tip, fiat).format():>25}" in text  # on one line
        await pilot.press("enter")
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReportScreen))
        await until(pilot, lambda: f"  {total.format()}" in screen_text(pilot))

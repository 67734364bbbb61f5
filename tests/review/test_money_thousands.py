"""An amount typed with a thousands separator is refused, never taken as a decimal one."""

from __future__ import annotations

import pytest

from terminal.domain.money import AmountError, Money


@pytest.mark.parametrize("text", ["1,000", "1,500", "2.500", "12,000"])
def test_a_thousands_group_is_refused_not_read_as_cents(text: str) -> None:
    # '1,500' is fifteen hundred to many cashiers: charging 1.50 EUR would lose the sale
    with pytest.raises(AmountError) as info:
        Money.parse(text, "EUR")
    assert "thousands" in str(info.value)


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [("1,5", "EUR", 150), ("1,50", "EUR", 150), ("1.50000", "EUR", 150), ("0.001", "BTC", 100_000)],
)
def test_decimals_still_parse(text: str, code: str, minor: int) -> None:
    assert Money.parse(text, code).minor == minor

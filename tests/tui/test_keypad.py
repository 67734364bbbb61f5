"""The keypad's rules, without a screen."""

from __future__ import annotations

import pytest

from terminal.domain.money import AmountError, asset
from terminal.tui.keypad import Keypad, tip_of


def typed(code: str, keys: str) -> Keypad:
    pad = Keypad(asset(code))
    for k in keys:
        pad.press({"<": "backspace", "C": "clear"}.get(k, k))
    return pad


@pytest.mark.parametrize(
    ("code", "keys", "text", "shown", "minor"),
    [
        ("EUR", "1250", "1250", "1,250.00", 125000),
        ("EUR", "12.5", "12.5", "12.5_", 1250),
        ("EUR", "12.555", "12.55", "12.55", 1255),  # a third decimal is refused
        ("EUR", ".5", "0.5", "0.5_", 50),
        ("EUR", "12..5", "12.5", "12.5_", 1250),  # one point only
        ("JPY", "1.5", "15", "15", 15),  # no decimals in yen: the point is refused
        ("KWD", "1.2345", "1.234", "1.234", 1234),
        ("EUR", "007", "7", "7.00", 700),
        ("EUR", "123<", "12", "12.00", 1200),
        ("EUR", "99C5", "5", "5.00", 500),
        ("EUR", "1,5", "1.5", "1.5_", 150),
    ],
)
def test_keys(code: str, keys: str, text: str, shown: str, minor: int) -> None:
    pad = typed(code, keys)
    assert pad.text == text
    assert pad.display() == shown
    assert pad.amount().minor == minor


def test_empty_and_zero_are_not_amounts() -> None:
    with pytest.raises(AmountError) as empty:
        typed("EUR", "").amount()
    assert empty.value.code == "empty"
    with pytest.raises(AmountError) as zero:
        typed("EUR", "0.00").amount()
    assert zero.value.code == "zero"


def test_a_stuck_key_stops_at_nine_digits() -> None:
    assert typed("EUR", "1" * 20).text == "1" * 9


def test_tip_rounds_half_up_to_the_minor_unit() -> None:
    base = typed("EUR", "12.5").amount()
    assert tip_of(base, 15).minor == 188  # 1.875
    assert tip_of(base, 10).minor == 125
    assert tip_of(typed("JPY", "1005").amount(), 15).minor == 151  # 150.75

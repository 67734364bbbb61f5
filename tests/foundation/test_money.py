"""Money: parsing user text, formatting, and the one rounding rule."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.money import (
    ASSETS,
    AmountError,
    AssetKind,
    Money,
    MoneyError,
    UnknownAssetError,
    asset,
    crypto_to_fiat,
    fiat_to_crypto,
)

FIATS = [a for a in ASSETS.values() if a.kind is AssetKind.FIAT]
CRYPTOS = [a for a in ASSETS.values() if a.kind is AssetKind.CRYPTO]


def test_required_assets_and_exponents() -> None:
    expected = {
        "EUR": 2,
        "USD": 2,
        "GBP": 2,
        "CHF": 2,
        "JPY": 0,
        "KWD": 3,
        "BTC": 8,
        "BTC-LN": 11,
        "ETH": 18,
        "USDC": 6,
        "USDT": 6,
        "SOL": 9,
    }
    assert {code: ASSETS[code].exponent for code in expected} == expected
    assert asset("btc-ln").unit_name == "msat"


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12,5", "EUR", 1250),
        (" 7 ", "EUR", 700),
        (".5", "EUR", 50),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("0.00000001", "BTC", 1),
        ("12.", "USD", 1200),
        ("1.50000", "GBP", 150),
    ],
)
def test_parse_accepts(text: str, code: str, minor: int) -> None:
    assert Money.parse(text, code).minor == minor


@pytest.mark.parametrize(
    ("text", "code", "error"),
    [
        ("", "EUR", "empty"),
        ("   ", "EUR", "empty"),
        ("abc", "EUR", "not_a_number"),
        ("1e5", "EUR", "not_a_number"),
        ("1,000.00", "EUR", "not_a_number"),
        ("1.2.3", "EUR", "not_a_number"),
        (".", "EUR", "not_a_number"),
        ("+5", "EUR", "not_a_number"),
        ("-1", "EUR", "negative"),
        ("0", "EUR", "zero"),
        ("0.00", "EUR", "zero"),
        ("1.234", "EUR", "too_many_decimals"),
        ("1.5", "JPY", "too_many_decimals"),
        ("1.000", "JPY", "too_many_decimals"),
        ("1.0001", "KWD", "too_many_decimals"),
        ("1000000001", "EUR", "too_large"),
        ("9" * 80, "EUR", "too_large"),
        ("NaN", "EUR", "not_a_number"),
        ("１２", "EUR", "not_a_number"),
    ],
)
def test_parse_rejects_with_a_specific_code(text: str, code: str, error: str) -> None:
    with pytest.raises(AmountError) as info:
        Money.parse(text, code)
    assert info.value.code == error
    assert str(info.value)  # a message a cashier can read


def test_unknown_asset_lists_known_ones() -> None:
    with pytest.raises(UnknownAssetError, match="known assets: .*BTC.*EUR"):
        asset("DOGE")


def test_format_for_people() -> None:
    assert Money(123456, asset("EUR")).format() == "1,234.56 EUR"
    assert Money(1000, asset("JPY")).format() == "1,000 JPY"
    assert Money(1, asset("KWD")).format() == "0.001 KWD"
    assert Money(12000, asset("BTC")).format(trim=True) == "0.00012 BTC"
    assert Money(12000, asset("BTC")).format() == "0.00012000 BTC"
    assert Money(-5, asset("EUR")).amount_str() == "-0.05"


def test_arithmetic_refuses_mixed_assets() -> None:
    with pytest.raises(MoneyError, match="EUR with USD"):
        _ = Money(1, asset("EUR")) + Money(1, asset("USD"))
    assert (Money(1, asset("EUR")) + Money(2, asset("EUR"))).minor == 3


def test_from_decimal_is_exact() -> None:
    assert Money.from_decimal("0.000000000000000001", "ETH").minor == 1
    with pytest.raises(AmountError, match="more decimals"):
        Money.from_decimal("0.0000000000000000001", "ETH")
    with pytest.raises(AmountError):
        Money.from_decimal("Infinity", "EUR")
    with pytest.raises(TypeError):
        Money(1.5, asset("EUR"))  # type: ignore[arg-type]


@given(st.sampled_from(FIATS), st.integers(min_value=1, max_value=10**9 * 1000))
def test_parse_format_round_trip(fiat: object, minor: int) -> None:
    assert isinstance(fiat, type(FIATS[0]))
    m = Money(minor, fiat)
    if minor <= fiat.max_major * fiat.scale:
        assert Money.parse(m.amount_str(), fiat) == m


rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000000"), places=4)


@given(st.sampled_from(FIATS), st.sampled_from(CRYPTOS), st.integers(min_value=1, max_value=10**9), rates)
def test_customer_never_pays_less_than_the_quote(
    fiat: object, crypto: object, minor: int, rate: Decimal
) -> None:
    assert isinstance(fiat, type(FIATS[0])) and isinstance(crypto, type(CRYPTOS[0]))
    amount = Money(minor, fiat)
    owed = fiat_to_crypto(amount, crypto, rate)
    exact = Fraction(minor, fiat.scale) / Fraction(rate)  # crypto major units, exact
    paid = Fraction(owed.minor, crypto.scale)
    assert paid >= exact  # never less than the quote
    assert paid - exact < Fraction(1, crypto.scale)  # and less than one smallest unit more
    # the fiat value shown for what was paid never exceeds what was paid, nor falls below the sale
    assert crypto_to_fiat(owed, fiat, rate).minor >= minor


def test_rounding_edges() -> None:
    eur, btc = asset("EUR"), asset("BTC")
    # exactly divisible: no rounding
    assert fiat_to_crypto(Money(100, eur), btc, "1").minor == 100_000_000
    # a hair over a sat rounds up to the next sat
    assert fiat_to_crypto(Money(1, eur), btc, "1000000").minor == 1  # 0.01/1e6 BTC = 1 sat exactly
    assert fiat_to_crypto(Money(1, eur), btc, "999999.9999").minor == 2
    # a tiny amount at a huge rate still costs at least one smallest unit, never zero
    assert fiat_to_crypto(Money(1, eur), btc, "99999999999").minor == 1
    assert (
        fiat_to_crypto(Money(1, asset("JPY")), asset("ETH"), "3").minor == 333_333_333_333_333_334
    )  # exact; a float would give ...312
    with pytest.raises(MoneyError):
        fiat_to_crypto(Money(1, eur), btc, "0")
    with pytest.raises(MoneyError):
        fiat_to_crypto(Money(1, btc), eur, "1")

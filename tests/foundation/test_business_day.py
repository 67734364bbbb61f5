"""The merchant's business day ([merchant] timezone) and money in its locale ([merchant] locale):
the day windows across time zones and DST changes, Babel's display of every fiat exponent, the
settings that refuse what is not a zone or a locale."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import get_currency_precision

from terminal.config import ConfigError, load_settings
from terminal.display import LocaleFormat, money_format
from terminal.domain.money import ASSETS, AssetKind, Money, plain_format
from terminal.domain.zreport import DayWindow, z_report
from tests.support import sale_record

TOKYO, BERLIN = ZoneInfo("Asia/Tokyo"), ZoneInfo("Europe/Berlin")


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_late_utc_sale_belongs_to_the_next_day_in_tokyo() -> None:
    sold = at("2026-03-14T22:30:00+00:00")  # 07:30 on the 15th in Tokyo
    window = DayWindow.of(sold, TOKYO)
    assert (window.day, window.zone, window.hours) == (date(2026, 3, 15), "Asia/Tokyo", 24)
    assert window.start == at("2026-03-14T15:00:00+00:00") and sold in window
    assert sold not in DayWindow.zoned(date(2026, 3, 14), TOKYO)
    assert DayWindow.utc_of(sold).day == date(2026, 3, 14)  # the same sale on a UTC day
    rep = z_report(window, sales=[sale_record("approved", 450, created_at=sold)], refunds=[])
    assert rep.count("approved") == 1 and rep.day == "2026-03-15"
    previous = z_report(
        DayWindow.zoned(date(2026, 3, 14), TOKYO),
        sales=[sale_record("approved", 450, created_at=sold)],
        refunds=[],
    )
    assert previous.count("approved") == 0


@pytest.mark.parametrize(
    ("day", "hours", "start", "end"),
    [
        # clocks go forward at 02:00 CET: a 23-hour day, midnight to midnight
        (date(2026, 3, 29), 23, "2026-03-28T23:00:00+00:00", "2026-03-29T22:00:00+00:00"),
        # and back at 03:00 CEST: 25 hours
        (date(2026, 10, 25), 25, "2026-10-24T22:00:00+00:00", "2026-10-25T23:00:00+00:00"),
        (date(2026, 3, 30), 24, "2026-03-29T22:00:00+00:00", "2026-03-30T22:00:00+00:00"),
    ],
)
def test_a_day_across_a_dst_change_runs_midnight_to_midnight(
    day: date, hours: int, start: str, end: str
) -> None:
    window = DayWindow.zoned(day, BERLIN)
    assert (window.hours, window.start, window.end) == (hours, at(start), at(end))
    # every instant of the day maps back to it, the ends excluded as ever
    assert DayWindow.of(window.start, BERLIN) == window and DayWindow.of(window.end - 1, BERLIN) == window
    assert DayWindow.of(window.end, BERLIN).day != day and window.start - 1 not in window


def test_consecutive_days_tile_the_time_line() -> None:
    day = date(2026, 3, 27)
    windows = [DayWindow.zoned(date(2026, 3, 27 + i), BERLIN) for i in range(4)]
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert [w.hours for w in windows] == [24, 24, 23, 24] and windows[0].day == day


def test_the_utc_window_is_the_zoned_one_in_utc() -> None:
    assert DayWindow.utc(date(2026, 3, 29)) == DayWindow.zoned(date(2026, 3, 29), UTC)
    assert DayWindow.utc(date(2026, 3, 29)).zone == "UTC"


# -- money in the merchant's locale ------------------------------------------------------------


def test_de_de_formats_money_the_german_way() -> None:
    de = money_format("de_DE")
    assert de(Money.parse("1234.56", "EUR")) == "1.234,56 €"
    assert de(Money.parse("1000", "JPY")) == "1.000 ¥"  # no decimals
    assert de(Money.parse("1.2", "KWD")) == "1,200 KWD"  # three decimals, kept
    assert de(Money.parse("0.00012", "BTC"), trim=True) == "0,00012 BTC"
    assert de(Money.parse("0.00012", "BTC")) == "0,00012000 BTC"
    assert de(Money(-123456, ASSETS["EUR"])) == "-1.234,56 €"


def test_other_locales_and_exponents() -> None:
    us, jp = money_format("en_US"), money_format("ja_JP")
    assert us(Money.parse("1234.56", "EUR")) == "€1,234.56"
    assert us(Money.parse("1234", "JPY")) == "¥1,234" and jp(Money.parse("1234", "JPY")) == "￥1,234"
    assert us(Money.parse("1.005", "KWD")) == "KWD1.005" and us(Money.parse("5", "KWD")) == "KWD5.000"
    assert us(Money.parse("1234.5", "ETH"), trim=True) == "1,234.5 ETH"
    # a receipt printer gets plain spaces and no direction marks
    for text in (
        money_format("fr_FR")(Money.parse("1234.56", "EUR")),
        money_format("ar_KW")(Money.parse("1", "KWD")),
    ):
        assert not set(text) & {"\u00a0", "\u202f", "\u200e", "\u200f", "\u061c"}
    assert money_format("fr_FR")(Money.parse("1234.56", "EUR")) == "1 234,56 €"


@pytest.mark.parametrize("code", sorted(c for c, a in ASSETS.items() if a.kind is AssetKind.FIAT))
def test_babel_shows_every_fiat_with_its_own_exponent(code: str) -> None:
    # the display takes CLDR's digits for a currency: they must be ISO 4217's, as in Money
    a = ASSETS[code]
    assert get_currency_precision(code) == a.exponent
    shown = money_format("en_US")(Money(10**a.exponent + 1, a))  # 1 and one minor unit
    digits = "".join(ch for ch in shown if ch.isdigit())
    assert digits == "1" + "0" * max(a.exponent - 1, 0) + "1" if a.exponent else digits == "2"


def test_without_a_locale_the_display_is_the_plain_one() -> None:
    assert money_format("") is plain_format and money_format("  ") is plain_format
    assert plain_format(Money.parse("1234.56", "EUR")) == "1,234.56 EUR"
    assert isinstance(money_format("de-DE"), LocaleFormat)  # the usual spelling with a hyphen too


# -- settings ----------------------------------------------------------------------------------


def test_settings_take_a_zone_and_a_locale() -> None:
    s = load_settings(
        file=None, env={"CRYPTOPOS_MERCHANT__TIMEZONE": "Asia/Tokyo", "CRYPTOPOS_MERCHANT__LOCALE": "de-de"}
    )
    assert s.settings.merchant.timezone == "Asia/Tokyo" and s.settings.merchant.zone() == TOKYO
    assert s.settings.merchant.locale == "de_DE"
    default = load_settings(file=None, env={}).settings.merchant
    assert (default.timezone, default.locale) == ("UTC", "")


def test_config_check_refuses_what_is_not_a_zone_or_a_locale() -> None:
    env = {"CRYPTOPOS_MERCHANT__TIMEZONE": "Mars/Olympus", "CRYPTOPOS_MERCHANT__LOCALE": "xx_YY"}
    with pytest.raises(ConfigError) as info:
        load_settings(file=None, env=env)
    problems = {p.key: p.message for p in info.value.problems}
    assert (
        "is not a time zone" in problems["merchant.timezone"]
        and "Europe/Berlin" in problems["merchant.timezone"]
    )
    assert "is not a locale" in problems["merchant.locale"] and "de_DE" in problems["merchant.locale"]
    for bad in ("../etc/passwd", "/etc/localtime", ""):
        with pytest.raises(ConfigError, match="merchant.timezone"):
            load_settings(file=None, env={"CRYPTOPOS_MERCHANT__TIMEZONE": bad})

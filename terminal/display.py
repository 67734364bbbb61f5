"""Money for people in the merchant's locale (``[merchant] locale``), with Babel.

Only display goes through here: screens, receipts (on screen and on paper) and the Z-report.
What a cashier types is still read by :meth:`terminal.domain.money.Money.parse`, and the
journal and the wire keep integer minor units; a locale changes neither.

- fiat: Babel's currency format of the locale, with the currency's own decimals (``1.234,56 €``
  in de_DE, ``¥1,000`` in en_US, ``KWD1.234`` with KWD's three);
- crypto: the locale's digits and separators, then the asset's code (``0,00012 BTC``): CLDR has
  no crypto currencies, and a wallet shows the code.

Separators a receipt printer cannot encode are made plain: no-break and narrow no-break spaces
become spaces, and bidirectional marks are dropped (a line's direction is the screen's business).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import TYPE_CHECKING

from terminal.domain.money import AssetKind, Money, MoneyFormat, plain_format

if TYPE_CHECKING:
    from babel import Locale

_PLAIN = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u200e": None, "\u200f": None, "\u061c": None})


class LocaleError(ValueError):
    """A locale Babel does not know; the message says what to write instead."""


def _parse(name: str) -> Locale:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(name.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise LocaleError(
            f"{name!r} is not a locale; use a language and country such as de_DE, fr_CH or en_US "
            "(empty: 1,234.56 EUR)"
        ) from None


def check_locale(name: str) -> str:
    """``name`` as Babel spells it (``de-de`` → ``de_DE``), or :class:`LocaleError`."""
    return str(_parse(name))


class LocaleFormat:
    """A :class:`~terminal.domain.money.MoneyFormat` for one locale."""

    def __init__(self, name: str) -> None:
        self.locale = _parse(name)

    def __call__(self, money: Money, /, *, trim: bool = False) -> str:
        from babel.numbers import format_currency, format_decimal

        a = money.asset
        if a.kind is AssetKind.FIAT:
            # CLDR's digits for the currency; a test holds them equal to our ISO 4217 exponents
            text = format_currency(money.decimal, a.code, locale=self.locale)
        else:
            decimals = a.exponent
            if trim:
                decimals = _significant_decimals(money.decimal)
            pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
            text = f"{format_decimal(money.decimal, format=pattern, locale=self.locale)} {a.code}"
        return text.translate(_PLAIN)


def _significant_decimals(d: Decimal) -> int:
    exponent = d.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # Money.decimal is finite
    return max(0, -exponent)


@functools.lru_cache(maxsize=8)
def money_format(locale: str) -> MoneyFormat:
    """The display for ``[merchant] locale``: Babel's, or the plain one when it is empty."""
    return LocaleFormat(locale) if locale.strip() else plain_format

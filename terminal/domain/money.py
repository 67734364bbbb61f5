"""Assets and money as integer minor units.

Never float: an amount is an integer count of the asset's smallest unit. ``Decimal``
and ``Fraction`` appear only to parse user text, to display, and to convert at a
quote rate.

Rounding rule (the one place it is decided): converting fiat to crypto at a quote
rate rounds *up* to the next smallest crypto unit, so the customer never pays less
than the quoted fiat value. Converting crypto to fiat for display rounds *down*, so
the terminal never claims it received more than it did.

Errors::

    MoneyError (ValueError)
     └── AmountError             user text that is not a valid amount; ``code`` says why
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Protocol

__all__ = [
    "ASSETS",
    "AmountError",
    "Asset",
    "AssetKind",
    "Money",
    "MoneyError",
    "UnknownAssetError",
    "asset",
    "crypto_to_fiat",
    "fiat_to_crypto",
]


class MoneyError(ValueError):
    """Base of every money error."""


class UnknownAssetError(MoneyError):
    def __init__(self, code: str) -> None:
        known = ", ".join(sorted(ASSETS))
        super().__init__(f"unknown asset {code!r}; known assets: {known}")
        self.code = code


class AmountError(MoneyError):
    """An amount typed by a person that cannot be taken.

    ``code`` is stable and machine-readable: ``empty``, ``not_a_number``,
    ``negative``, ``zero``, ``too_many_decimals``, ``too_large``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AssetKind(enum.StrEnum):
    FIAT = "fiat"
    CRYPTO = "crypto"


@dataclass(frozen=True, slots=True)
class Asset:
    """A currency or token. ``exponent`` is the number of decimals of one minor unit."""

    code: str
    exponent: int
    kind: AssetKind
    name: str
    symbol: str = ""
    unit_name: str = ""  # name of the minor unit: cent, sat, msat, wei, lamport
    network: str = ""  # for crypto: the chain it settles on
    max_major: int = 10**9  # a sanity cap: anything above is a typo, not a sale

    @property
    def scale(self) -> int:
        return int(10**self.exponent)

    def __str__(self) -> str:
        return self.code


def _fiat(code: str, exponent: int, name: str, symbol: str, unit: str = "cent") -> Asset:
    return Asset(code, exponent, AssetKind.FIAT, name, symbol, unit, max_major=10**9)


def _crypto(code: str, exponent: int, name: str, unit: str, network: str, max_major: int) -> Asset:
    return Asset(code, exponent, AssetKind.CRYPTO, name, code, unit, network, max_major)


ASSETS: dict[str, Asset] = {
    a.code: a
    for a in (
        _fiat("EUR", 2, "Euro", "€"),
        _fiat("USD", 2, "US Dollar", "$"),
        _fiat("GBP", 2, "Pound Sterling", "£", "penny"),
        _fiat("CHF", 2, "Swiss Franc", "CHF", "rappen"),
        _fiat("JPY", 0, "Yen", "¥", "yen"),
        _fiat("KWD", 3, "Kuwaiti Dinar", "KD", "fils"),
        _crypto("BTC", 8, "Bitcoin", "sat", "bitcoin", 21_000_000),
        # Lightning settles in millisatoshi: same coin, finer unit, separate asset.
        _crypto("BTC-LN", 11, "Bitcoin over Lightning", "msat", "lightning", 21_000_000),
        _crypto("ETH", 18, "Ether", "wei", "ethereum", 10**9),
        _crypto("USDC", 6, "USD Coin", "base unit", "ethereum", 10**12),
        _crypto("USDT", 6, "Tether USD", "base unit", "ethereum", 10**12),
        _crypto("SOL", 9, "Solana", "lamport", "solana", 10**10),
    )
}


def asset(code: str) -> Asset:
    """Look up an asset by code, case-insensitively."""
    try:
        return ASSETS[code.strip().upper()]
    except KeyError:
        raise UnknownAssetError(code) from None


# Digits with an optional single decimal separator; no exponent, no grouping, no sign
# other than a leading minus (which we detect to give the better message).
_AMOUNT_RE = re.compile(r"^(?P<sign>-)?(?P<int>[0-9]*)(?:(?P<sep>[.,])(?P<frac>[0-9]*))?$")
_MAX_INPUT_LEN = 64


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount of one asset in integer minor units."""

    minor: int
    asset: Asset

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError(f"minor units must be int, not {type(self.minor).__name__}")

    # -- construction -------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, asset_: Asset | str, *, allow_zero: bool = False) -> Money:
        """Parse an amount typed by a person (``"12.50"``, ``"12,5"``, ``"1000"``).

        A comma is accepted as the decimal separator (many merchants type one);
        thousands separators are not, because ``1,000`` is ambiguous.
        """
        a = asset(asset_) if isinstance(asset_, str) else asset_
        raw = text.strip()
        if not raw:
            raise AmountError("empty", "enter an amount")
        if len(raw) > _MAX_INPUT_LEN:
            raise AmountError("too_large", f"amount is too long ({len(raw)} characters)")
        m = _AMOUNT_RE.match(raw)
        if m is None or (not m["int"] and not m["frac"]):
            raise AmountError("not_a_number", f"{raw!r} is not an amount; use digits and one decimal point")
        if m["sign"]:
            raise AmountError("negative", "amount cannot be negative")
        frac = m["frac"] or ""
        whole = m["int"] or "0"
        if m["sep"] and len(frac) == 3 and 0 < a.exponent < 3 and len(frac.rstrip("0")) <= a.exponent:
            # "1,500" / "2.500": a thousands group to many cashiers, 1.50 once the trailing zero is
            # dropped; refused rather than charging a thousandth of the sale
            raise AmountError(
                "too_many_decimals",
                f"{raw!r} looks like a thousands separator; "
                f"type {whole}{frac} or {whole}.{frac[: a.exponent]}",
            )
        # For a currency without decimals a separator is refused outright: "1.000" JPY is
        # a thousand to some people and one to others.
        if len(frac.rstrip("0")) > a.exponent or (a.exponent == 0 and m["sep"]):
            if a.exponent == 0:
                msg = f"{a.code} has no decimals; enter a whole number"
            else:
                msg = f"{a.code} allows at most {a.exponent} decimals, got {len(frac)}"
            raise AmountError("too_many_decimals", msg)
        frac = frac[: a.exponent].ljust(a.exponent, "0")
        minor = int(m["int"] or "0") * a.scale + int(frac or "0")
        if minor == 0 and not allow_zero:
            raise AmountError("zero", "amount must be greater than zero")
        if minor > a.max_major * a.scale:
            raise AmountError(
                "too_large", f"amount is larger than {a.max_major:,} {a.code}; check the number"
            )
        return cls(minor, a)

    @classmethod
    def from_decimal(cls, value: Decimal | str, asset_: Asset | str) -> Money:
        """Exact conversion from a decimal in major units; raises if precision would be lost."""
        a = asset(asset_) if isinstance(asset_, str) else asset_
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise AmountError("not_a_number", f"{value!r} is not a decimal amount") from None
        if not d.is_finite():
            raise AmountError("not_a_number", f"{value!r} is not a finite amount")
        scaled = d.scaleb(a.exponent)
        if scaled != scaled.to_integral_value():
            raise AmountError(
                "too_many_decimals", f"{value} has more decimals than {a.code} allows ({a.exponent})"
            )
        return cls(int(scaled), a)

    # -- views --------------------------------------------------------------------

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exact."""
        return Decimal(self.minor).scaleb(-self.asset.exponent)

    def amount_str(self) -> str:
        """Major units with exactly the asset's exponent of decimals: ``"12.50"``, ``"1000"``."""
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), self.asset.scale)
        if self.asset.exponent == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{frac:0{self.asset.exponent}d}"

    def format(self, *, trim: bool = False) -> str:
        """For people: ``"12.50 EUR"``, ``"¥1,000"``-free plain grouping ``"1,000 JPY"``.

        ``trim`` drops trailing zeros of crypto amounts (``0.00012 BTC``), which is how
        wallets show them; fiat always keeps its exponent.
        """
        text = self.amount_str()
        whole, _, frac = text.partition(".")
        neg = whole.startswith("-")
        whole = f"{int(whole.lstrip('-')):,}"
        if trim and frac:
            frac = frac.rstrip("0")
        body = f"{'-' if neg else ''}{whole}{'.' + frac if frac else ''}"
        return f"{body} {self.asset.code}"

    def __str__(self) -> str:
        return self.format()

    # -- arithmetic within one asset -----------------------------------------------

    def _same(self, other: Money) -> None:
        if other.asset != self.asset:
            raise MoneyError(f"cannot combine {self.asset.code} with {other.asset.code}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.asset)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.asset)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def is_positive(self) -> bool:
        return self.minor > 0


class MoneyFormat(Protocol):
    """How amounts are shown to people: :func:`plain_format`, or the merchant's locale
    (:mod:`terminal.display`, Babel; outside the domain, since it reads locale data files).
    ``trim`` drops a crypto amount's trailing zeros; a fiat amount keeps its exponent."""

    def __call__(self, money: Money, /, *, trim: bool = False) -> str: ...


def plain_format(money: Money, /, *, trim: bool = False) -> str:
    """``1,234.56 EUR``: the display without a locale (:meth:`Money.format`)."""
    return money.format(trim=trim)


def _rate(rate: Decimal | str | Fraction) -> Fraction:
    r = Fraction(Decimal(rate)) if not isinstance(rate, Fraction) else rate
    if r <= 0:
        raise MoneyError(f"a rate must be positive, got {rate}")
    return r


def fiat_to_crypto(fiat: Money, crypto: Asset, rate: Decimal | str | Fraction) -> Money:
    """Crypto owed for ``fiat`` at ``rate`` (fiat major units per one crypto major unit).

    Rounds up to the next smallest crypto unit: the customer never pays less than the
    quote. Exact: ``crypto_minor = ceil(fiat_minor / 10^fe / rate * 10^ce)``.
    """
    if fiat.asset.kind is not AssetKind.FIAT or crypto.kind is not AssetKind.CRYPTO:
        raise MoneyError(f"cannot convert {fiat.asset.code} to {crypto.code}")
    exact = Fraction(fiat.minor, fiat.asset.scale) / _rate(rate) * crypto.scale
    return Money(math.ceil(exact), crypto)


def crypto_to_fiat(amount: Money, fiat: Asset, rate: Decimal | str | Fraction) -> Money:
    """Fiat value of a crypto amount at ``rate``, rounded down (never overstate receipts)."""
    if amount.asset.kind is not AssetKind.CRYPTO or fiat.kind is not AssetKind.FIAT:
        raise MoneyError(f"cannot convert {amount.asset.code} to {fiat.code}")
    exact = Fraction(amount.minor, amount.asset.scale) * _rate(rate) * fiat.scale
    return Money(math.floor(exact), fiat)

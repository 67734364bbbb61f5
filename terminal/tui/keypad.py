"""The amount keypad as plain state: digits, one decimal point as the currency allows,
backspace, clear. No Textual here, so it is tested without a screen."""

from __future__ import annotations

from dataclasses import dataclass, field

from terminal.domain.money import AmountError, Asset, Money
from terminal.staff.rules import PIN_MAX_DIGITS

# Nine digits before the point is more than any sale; a longer entry is a stuck key.
MAX_WHOLE_DIGITS = 9


@dataclass
class Keypad:
    currency: Asset
    text: str = ""

    def press(self, key: str) -> bool:
        """Apply one key (``0``-``9``, ``.``/``,``, ``backspace``, ``clear``); whether it was taken."""
        if key == "backspace":
            if not self.text:
                return False
            self.text = self.text[:-1]
            return True
        if key == "clear":
            taken = bool(self.text)
            self.text = ""
            return taken
        if key in (".", ","):
            if self.currency.exponent == 0 or "." in self.text:
                return False
            self.text = (self.text or "0") + "."
            return True
        if len(key) == 1 and key.isdigit():
            whole, dot, frac = self.text.partition(".")
            if dot and len(frac) >= self.currency.exponent:
                return False
            if not dot and len(whole) >= MAX_WHOLE_DIGITS:
                return False
            if not dot and whole == "0":
                self.text = key  # no leading zeros: "07" is a typo for "7"
                return True
            self.text += key
            return True
        return False

    def display(self) -> str:
        """What the cashier sees: the typed digits padded to the currency's decimals."""
        whole, dot, frac = self.text.partition(".")
        whole = whole or "0"
        if self.currency.exponent == 0:
            return f"{int(whole):,}"
        return f"{int(whole):,}.{frac.ljust(self.currency.exponent, '_' if dot else '0')}"

    def amount(self) -> Money:
        """The entered amount; raises :class:`AmountError` (``empty``, ``zero``...) when it is not one."""
        if not self.text:
            raise AmountError("empty", "enter an amount")
        return Money.parse(self.text.rstrip("."), self.currency)


def tip_of(base: Money, percent: int) -> Money:
    """A percentage tip, rounded half up to the currency's minor unit."""
    return Money((base.minor * percent + 50) // 100, base.asset)


@dataclass
class PinEntry:
    """The digits of a PIN as they are typed: at most eight, shown only as dots. ``repr`` never
    shows them."""

    digits: str = field(default="", repr=False)

    def press(self, key: str) -> bool:
        if key == "backspace":
            taken = bool(self.digits)
            self.digits = self.digits[:-1]
            return taken
        if key == "clear":
            taken = bool(self.digits)
            self.digits = ""
            return taken
        if len(key) == 1 and "0" <= key <= "9" and len(self.digits) < PIN_MAX_DIGITS:
            self.digits += key
            return True
        return False

    def masked(self) -> str:
        return " ".join("●" * len(self.digits)) if self.digits else "_ _ _ _"

    def take(self) -> str:
        """The PIN typed, and the entry is empty again."""
        pin, self.digits = self.digits, ""
        return pin

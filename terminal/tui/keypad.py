"""The amount keypad as plain state: digits, one decimal point as the currency allows,
backspace, clear. No Textual here, so it is tested without a screen."""

from __future__ import annotations

from dataclasses import dataclass

from terminal.domain.money import AmountError, Asset, Money

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

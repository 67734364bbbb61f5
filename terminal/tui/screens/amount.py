"""Amount entry as a keypad: digits, a decimal point when the currency has decimals,
backspace and clear. Enter charges the amount (then the tip and the asset)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.message import Message
from textual.widgets import Static

from terminal.domain.money import AmountError, Asset, Money
from terminal.tui.keypad import Keypad
from terminal.tui.screens.base import PosScreen

PAD = """\
 7  8  9
 4  5  6
 1  2  3
 {dot}  0  ⌫"""


class AmountScreen(PosScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "charge", "Next"),
        Binding("backspace", "press('backspace')", "Del"),
        Binding("escape", "press('clear')", "Clear"),
        Binding("h", "app.history", "History"),
        Binding("r", "app.report", "Report"),
        Binding("s", "app.settings", "Setup"),
        Binding("q", "app.quit", "Quit"),
        *[Binding(str(d), f"press('{d}')", "Amount", show=d == 0, key_display="0-9 .") for d in range(10)],
        Binding("full_stop", "press('.')", "point", show=False),
        Binding("comma", "press('.')", "point", show=False),
    ]

    class Charged(Message):
        """The cashier confirmed an amount."""

        def __init__(self, amount: Money) -> None:
            super().__init__()
            self.amount = amount

    def __init__(self, currency: Asset) -> None:
        super().__init__(id="amount")
        self.keypad = Keypad(currency)

    def body(self) -> ComposeResult:
        with Vertical(id="amount-body"):
            yield Static("Amount", id="amount-title")
            with Center():
                yield Static(id="amount-display")
            yield Static(id="amount-error")
            with Center():
                yield Static(id="keypad")

    def on_mount(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        code = self.keypad.currency.code
        self.query_one("#amount-display", Static).update(f"{self.keypad.display()} {code}")
        dot = "." if self.keypad.currency.exponent else " "
        self.query_one("#keypad", Static).update(PAD.format(dot=dot))

    def action_press(self, key: str) -> None:
        self.query_one("#amount-error", Static).update("")
        self.keypad.press(key)
        self._refresh()

    def action_charge(self) -> None:
        try:
            amount = self.keypad.amount()
        except AmountError as exc:
            self.query_one("#amount-error", Static).update(f"⚠ {exc}")
            return
        self.post_message(self.Charged(amount))

    def clear(self) -> None:
        self.keypad.press("clear")
        self._refresh()

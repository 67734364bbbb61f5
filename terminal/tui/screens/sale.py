"""The screens of one sale after the amount: tip, asset and quote, waiting, result."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from terminal.domain.money import AmountError, Money, MoneyFormat, plain_format
from terminal.domain.session import State
from terminal.tui.keypad import Keypad, tip_of
from terminal.tui.screens.base import PosScreen, ReceiptPrint
from terminal.tui.updates import SaleView
from terminal.tui.widgets.qr import QrCode, compact_forms, fitting_form, qr_size
from terminal.tui.widgets.readers import ReaderPanel

TIP_PERCENTS = (10, 15, 20)


class TipScreen(PosScreen):
    """Optional tip: none, a percentage, or a custom amount typed on the keypad."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "confirm", "OK"),
        Binding("n", "choose(0)", "No tip"),
        *[Binding(str(i), f"choose({p})", f"{p}%") for i, p in enumerate(TIP_PERCENTS, start=1)],
        Binding("c", "custom", "Custom"),
        Binding("escape", "back", "Back"),
        *[Binding(str(d), f"digit('{d}')", show=False) for d in (0, 4, 5, 6, 7, 8, 9)],
        Binding("full_stop", "digit('.')", show=False),
        Binding("backspace", "digit('backspace')", show=False),
    ]

    class TipChosen(Message):
        def __init__(self, base: Money, tip: Money | None) -> None:
            super().__init__()
            self.base = base
            self.tip = tip

    class Backed(Message):
        """The cashier went back to change the amount."""

    def __init__(self, base: Money) -> None:
        super().__init__(id="tip")
        self.base = base
        self.keypad: Keypad | None = None
        self.tip: Money | None = None

    def body(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static(id="tip-base")
            yield Static(id="tip-choices")
            yield Static(id="tip-total")

    def on_mount(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        money = self.register.money
        self.query_one("#tip-base", Static).update(Text(f"Amount  {money(self.base)}", "bold"))
        lines = ["[n] no tip"] + [
            f"[{i}] {p}%  = {money(tip_of(self.base, p))}" for i, p in enumerate(TIP_PERCENTS, start=1)
        ]
        if self.keypad is not None:
            lines.append(f"[c] custom: {self.keypad.display()} {self.base.asset.code}  (type, then Enter)")
        else:
            lines.append("[c] custom amount")
        self.query_one("#tip-choices", Static).update(Text("\n".join(lines)))
        tip = self._current()
        total = self.base + tip if tip is not None else self.base
        self.query_one("#tip-total", Static).update(
            Text(f"Tip     {money(tip) if tip else '-'}\nTotal   {money(total)}", "bold")
        )

    def _current(self) -> Money | None:
        if self.keypad is not None:
            try:
                return Money.parse(self.keypad.text.rstrip(".") or "0", self.base.asset, allow_zero=True)
            except AmountError:
                return None
        return self.tip

    def action_choose(self, percent: int) -> None:
        if self.keypad is not None:
            self.action_digit(str(TIP_PERCENTS.index(percent) + 1) if percent else "0")
            return
        self.tip = tip_of(self.base, percent) if percent else None
        self.action_confirm()

    def action_custom(self) -> None:
        self.keypad = Keypad(self.base.asset)
        self._refresh()

    def action_digit(self, key: str) -> None:
        if self.keypad is not None:
            self.keypad.press(key)
            self._refresh()

    def action_confirm(self) -> None:
        tip = self._current()
        self.post_message(self.TipChosen(self.base, tip if tip and tip.is_positive() else None))

    def action_back(self) -> None:
        self.post_message(self.Backed())


class AssetScreen(PosScreen):
    """The customer picks an asset; the quote follows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.cancel_sale", "Cancel"),
        *[Binding(str(i), f"choose({i})", "Asset", show=i == 1, key_display="1-9") for i in range(1, 10)],
    ]

    class AssetChosen(Message):
        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        super().__init__(id="asset")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":
            index = parameters[0]
            return isinstance(index, int) and 1 <= index <= len(self.codes)
        return True

    def body(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static(id="asset-total")
            yield Static(id="asset-list")
            yield Static(id="asset-state")

    def on_mount(self) -> None:
        self.query_one("#asset-list", Static).update(
            Text("\n".join(f"[{i}] {code}" for i, code in enumerate(self.codes, start=1)))
        )
        self.follow("sale", self._render_sale)

    def _render_sale(self, sale: SaleView) -> None:
        if sale.total is not None:
            total = self.register.money(sale.total)
            self.query_one("#asset-total", Static).update(Text(f"Total  {total}", "bold"))
        if sale.state is State.QUOTING:
            msg = Text(f"Quoting {sale.asset.code if sale.asset else ''}…", "yellow")
        elif sale.reason:
            msg = Text(f"No quote: {sale.reason}. Pick an asset to try again.", "red")
        else:
            msg = Text("Pick the asset the customer pays with.", "dim")
        self.query_one("#asset-state", Static).update(msg)

    def action_choose(self, index: int) -> None:
        self.post_message(self.AssetChosen(self.codes[index - 1]))


def quote_text(sale: SaleView, seconds_left: float | None, money: MoneyFormat = plain_format) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if sale.total is not None:
        text.append(f"{money(sale.total)}\n", "bold")
        if sale.tip is not None:
            text.append(f"incl. tip {money(sale.tip)}\n", "dim")
    q = sale.quote
    if q is None:
        text.append(f"quoting {sale.asset.code if sale.asset else ''}…\n", "yellow")
        return text
    text.append(f"{money(q.crypto, trim=True)}\n", "bold cyan")
    text.append(f"rate {q.rate} {q.fiat.asset.code}/{q.crypto.asset.code}\n")
    text.append(f"spread {q.spread_bps / 100:.2f}%\nquote {q.quote_id}\n", "dim")
    if seconds_left is not None:
        secs = int(seconds_left)
        style = "bold red" if secs <= 10 else "green"
        text.append(f"quote valid {secs // 60}:{secs % 60:02d}", style)
        if sale.quotes_requested > 1:
            text.append(f"  (re-quoted ×{sale.quotes_requested - 1})", "dim")
        text.append("\n")
    return text


class WaitingScreen(PosScreen):
    """Waiting for the customer: live readers, the quote with its countdown, the invoice QR."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.cancel_sale", "Cancel"),
        Binding("m", "move_readers", "Readers"),
        Binding("t", "simulate('tap')", "Tap"),
        Binding("s", "simulate('scan')", "Scan"),
        Binding("b", "simulate('boltcard')", "Bolt Card"),
        Binding("d", "simulate('decline')", "Declined"),
        Binding("g", "simulate('garbage')", "Bad QR"),
    ]

    class Simulated(Message):
        """A demo key asked for a simulated tap or scan."""

        def __init__(self, kind: str) -> None:
            super().__init__()
            self.kind = kind

    class MoveRequested(Message):
        """The cashier wants the sale on another reader (one was lost, or another is at hand)."""

    def __init__(self, *, demo: bool) -> None:
        super().__init__(id="waiting")
        self.demo = demo

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the simulated-reader keys exist only in the demo
        return self.demo if action == "simulate" else True

    def body(self) -> ComposeResult:
        with Horizontal(id="waiting-body"):
            with Vertical(id="qr-pane"):
                yield QrCode(id="invoice-qr")
                yield Static(id="qr-note")
            with Vertical(id="info-pane"):
                yield Static(id="pay-state")
                yield Static(id="lost")
                yield Static(id="quote")
                yield Static("Readers", classes="heading")
                yield ReaderPanel(id="readers")
                if self.demo:
                    yield Static(
                        "demo keys: t tap · s scan · b Bolt Card (BTC-LN) · d declined · g bad QR",
                        classes="dim",
                    )

    def on_mount(self) -> None:
        self.follow("sale", self._render_sale)
        self.set_interval(0.5, self._render_countdown)

    def _render_countdown(self) -> None:
        self.query_one("#quote", Static).update(
            quote_text(self.pos.sale, self.register.seconds_left(), self.register.money)
        )

    def _render_sale(self, sale: SaleView) -> None:
        state = {
            State.QUOTING: Text("Getting a fresh quote…", "bold yellow"),
            State.AWAITING_PAYMENT: Text("Tap, show a QR, or scan the invoice", "bold green"),
            State.SUBMITTING: Text("Submitting the payment…", "bold yellow"),
        }.get(sale.state, Text(sale.state.value))
        self.query_one("#pay-state", Static).update(state)
        lost = self.query_one("#lost", Static)
        lost.display = bool(sale.lost)
        if sale.lost:
            text = Text(no_wrap=True, overflow="ellipsis")
            for device, why in sale.lost:
                text.append(f"✖ {device.split('?', 1)[0]} lost: {why}\n", "bold red")
            text.append("Esc: cancel · m: another reader", "bold")
            lost.update(text)
        self._render_countdown()
        self._render_invoice(sale)

    def _render_invoice(self, sale: SaleView) -> None:
        qr = self.query_one("#invoice-qr", QrCode)
        note = self.query_one("#qr-note", Static)
        invoice = sale.invoice
        if invoice is None:
            qr.show("")
            qr.display = False
            note.update(
                "Invoice QR: off\n(this till issues no\nmerchant invoices)"
                if self.register.invoices is None
                else "preparing the invoice…"
            )
            return
        free_rows = self.size.height - 3 if self.size.height else 21
        free_cols = max(self.size.width - 34, 0) if self.size.width else 46
        shown = fitting_form(invoice.uri, cols=free_cols, rows=free_rows)
        if shown is None:
            qr.show("")
            qr.display = False
            cols, rows = qr_size(compact_forms(invoice.uri)[-1])
            note.update(
                f"This {invoice.kind} invoice needs {cols}×{rows + 3} cells:\nenlarge the window to show "
                f"its QR.\n\n{invoice.uri}"
            )
            return
        qr.display = True
        qr.show(shown)
        status = "" if invoice.status == "pending" else f"invoice {invoice.status}"
        compact = "compact QR: address and amount" if shown != invoice.uri else ""
        note.update(" · ".join(x for x in (compact, status) if x))

    def on_resize(self) -> None:
        self._render_invoice(self.pos.sale)

    def action_simulate(self, kind: str) -> None:
        self.post_message(self.Simulated(kind))

    def action_move_readers(self) -> None:
        self.post_message(self.MoveRequested())


class ReaderScreen(PosScreen):
    """Move the waiting sale to another reader: a configured one, or a device string typed in."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        *[Binding(str(i), f"choose({i})", "Reader", show=i == 1, key_display="1-9") for i in range(1, 10)],
    ]

    class ReadersChosen(Message):
        def __init__(self, devices: tuple[str, ...]) -> None:
            super().__init__()
            self.devices = devices

    def __init__(self, devices: tuple[str, ...], states: dict[str, str]) -> None:
        super().__init__(id="readers-screen")
        self.devices = devices
        self.states = states

    def body(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static(Text("Take this sale on another reader", "bold"))
            yield Static(id="reader-choices")
            yield Static("or type a device string (nfc:usb, camera:0...), then Enter:", classes="dim")
            yield Input(placeholder="device string", id="reader-device")
            yield Static(id="reader-error")

    def on_mount(self) -> None:
        lines = Text(no_wrap=True, overflow="ellipsis")
        for i, device in enumerate(self.devices[:9], start=1):
            lines.append(f"[{i}] {device}  ")
            lines.append(f"{self.states.get(device, 'not running')}\n", "dim")
        self.query_one("#reader-choices", Static).update(lines)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose":  # digits belong to the device string while it is being typed
            index = parameters[0]
            typing = bool(self.query_one(Input).value)
            return not typing and isinstance(index, int) and 1 <= index <= len(self.devices)
        return True

    def action_choose(self, index: int) -> None:
        self.post_message(self.ReadersChosen((self.devices[index - 1],)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.post_message(self.ReadersChosen((event.value.strip(),)))

    def show_error(self, text: str) -> None:
        self.query_one("#reader-error", Static).update(Text(text, "red"))


REASONS = {
    "card_declined": "The card was declined by its issuer.",
    "insufficient_funds": "Not enough funds in the customer's wallet.",
    "replayed_tap": "This tap was already used: ask the customer to tap again.",
    "bad_signature": "The card's signature is not valid: it may be cloned.",
    "expired_token": "The wallet's payment token has expired: ask for a new one.",
    "offline_queued": "Stored offline: it is charged when the backend is back. Do not take it again.",
    "not_a_payment": "The customer showed a code that asks to receive money, not a payment.",
    "asset_mismatch": "The payment shown is for another asset or network than this sale.",
}


def reason_in_words(reason: str | None) -> str:
    if not reason:
        return ""
    return REASONS.get(reason, reason[0].upper() + reason[1:] + ("" if reason.endswith(".") else "."))


class ResultScreen(PosScreen):
    """Approved, declined (with the reason), expired, or unknown (with what the till is doing)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "app.new_sale", "New sale"),
        Binding("p", "app.receipt", "Receipt"),
        Binding("P", "print", "Print"),
        Binding("h", "app.history", "History"),
        Binding("x", "cancel_by_hand", "Cancel by hand"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # giving up on a sale by hand (with a manager's PIN) only when its outcome is unknown
        if action == "cancel_by_hand":
            return self.pos.sale.state is State.UNKNOWN_OUTCOME
        return True

    class CancelByHandRequested(Message):
        """Give up on the sale whose outcome is unknown (the app asks a manager first)."""

    def action_cancel_by_hand(self) -> None:
        self.post_message(self.CancelByHandRequested())

    class PrintRequested(ReceiptPrint):
        pass

    def body(self) -> ComposeResult:
        with Vertical(classes="panel", id="result-body"):
            yield Static(id="result-title")
            yield Static(id="result-detail")

    def on_mount(self) -> None:
        self.follow("sale", self._render_sale)

    def action_print(self) -> None:
        reference = self.pos.sale.reference
        if reference is not None:
            self.post_message(self.PrintRequested(reference))

    def _render_sale(self, sale: SaleView) -> None:
        title, style = {
            State.APPROVED: ("✔ APPROVED", "bold white on green"),
            State.DECLINED: ("✖ DECLINED", "bold white on red"),
            State.EXPIRED: ("⌛ EXPIRED", "bold black on yellow"),
            State.CANCELLED: ("CANCELLED", "bold"),
            State.UNKNOWN_OUTCOME: ("? OUTCOME UNKNOWN", "bold black on yellow"),
        }.get(sale.state, (sale.state.value, "bold"))
        if sale.state is State.DECLINED and sale.reason == "offline_queued":
            title, style = "⇪ STORED OFFLINE", "bold black on yellow"
        self.query_one("#result-title", Static).update(Text(f" {title} ", style))
        lines = Text()
        if sale.total is not None:
            money = self.register.money
            lines.append(money(sale.total))
            if sale.quote is not None:
                lines.append(f"  =  {money(sale.quote.crypto, trim=True)}")
            lines.append("\n")
        if sale.state is State.DECLINED:
            lines.append(reason_in_words(sale.reason) + "\n", "red")
        elif sale.state is State.EXPIRED:
            lines.append("The customer did not pay in time; nothing was charged.\n")
        elif sale.state is State.UNKNOWN_OUTCOME:
            lines.append(f"The backend did not answer ({sale.reason}).\n", "yellow")
            lines.append((sale.inquiry or "Asking the backend what happened…") + "\n")
        if sale.payment_id:
            lines.append(f"payment {sale.payment_id}\n", "dim")
        if sale.reference:
            lines.append(f"reference {sale.reference}\n", "dim")
        if sale.state is State.UNKNOWN_OUTCOME:
            lines.append("x: cancel it by hand (a manager's PIN; it may have been charged)\n", "dim")
        self.query_one("#result-detail", Static).update(lines)
        self.refresh_bindings()

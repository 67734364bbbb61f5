"""Staff screens: the sign-in screen the till opens on (and locks to), the manager's PIN pad
that every step-up reuses (a refund, a hand-cancel, an offline or settings change), and the
small value prompt of a settings change. PINs are typed on the keypad and shown as dots; a
screen hands the PIN to the app in one message and keeps no copy."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from terminal.tui.keypad import PinEntry
from terminal.tui.screens.base import PosScreen
from terminal.tui.updates import StaffView

PAD = """\
 7  8  9
 4  5  6
 1  2  3
    0  ⌫"""

PIN_KEYS: list[BindingType] = [
    *[Binding(str(d), f"digit('{d}')", "PIN", show=d == 0, key_display="0-9") for d in range(10)],
    Binding("backspace", "digit('backspace')", "Del"),
]


def _label(member: StaffView) -> str:
    return f"{member.name}  ({member.role})" if member.role == "manager" else member.name


class SignInScreen(PosScreen):
    """Pick a name (arrows), type the PIN, Enter. A manager's PIN is checked by the backend."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "sign_in", "Sign in"),
        *PIN_KEYS,
        Binding("escape", "digit('clear')", "Clear"),
        Binding("q", "app.quit", "Quit"),
    ]

    class SignInRequested(Message):
        def __init__(self, staff_id: str, pin: str) -> None:
            super().__init__()
            self.staff_id = staff_id
            self.pin = pin

    def __init__(self, *, why: str = "") -> None:
        super().__init__(id="signin")
        self.why = why
        self.entry = PinEntry()
        self.ids: list[str] = []

    def body(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static(id="signin-title")
            with Horizontal(id="signin-body"):
                yield OptionList(id="signin-names")
                with Vertical(id="signin-pin-pane"):
                    yield Static(id="signin-pin")
                    yield Static(PAD, id="signin-keypad")
            yield Static(id="signin-error")
            yield Static(self.pos.staff_hint, id="signin-hint", classes="dim")

    def on_mount(self) -> None:
        if not self.query("#signin-title"):
            return  # popped before it was composed (signed in or routed away at once): nothing to draw
        title = "Sign in: pick your name (↑↓), type your PIN, Enter"
        if self.why:
            title = f"Locked ({self.why}). {title}"
        self.query_one("#signin-title", Static).update(Text(title, "bold"))
        self.reload()
        self._render_pin()

    def reload(self) -> None:
        """The names that may sign in (after a roster sync too), keeping the one picked."""
        if not self.query(OptionList):
            return  # not composed yet (or already gone): its own mount loads the names
        names = self.query_one(OptionList)
        picked = self.picked()
        roster = self.register.staff_roster()
        self.ids = [m.staff_id for m in roster]
        names.clear_options()
        names.add_options([Option(_label(m), id=m.staff_id) for m in roster])
        if not roster:
            self.show_error(
                "Nobody can sign in on this till yet: add a cashier with `cryptopos staff add NAME`"
                " (a manager: `cryptopos staff sync`)"
            )
            return
        names.highlighted = self.ids.index(picked) if picked in self.ids else 0
        names.focus()

    def picked(self) -> str | None:
        if not self.query(OptionList):
            return None
        names = self.query_one(OptionList)
        index = names.highlighted
        return self.ids[index] if index is not None and 0 <= index < len(self.ids) else None

    def _render_pin(self) -> None:
        self.query_one("#signin-pin", Static).update(Text(f"PIN  {self.entry.masked()}", "bold"))

    def action_digit(self, key: str) -> None:
        self.entry.press(key)
        self.query_one("#signin-error", Static).update("")
        self._render_pin()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_sign_in()

    def action_sign_in(self) -> None:
        staff_id = self.picked()
        if staff_id is None:
            return
        if not self.entry.digits:
            self.show_error("Type your PIN first")
            return
        pin = self.entry.take()
        self._render_pin()
        self.query_one("#signin-error", Static).update(Text("Checking…", "yellow"))
        self.post_message(self.SignInRequested(staff_id, pin))

    def show_error(self, text: str) -> None:
        self.query_one("#signin-error", Static).update(Text(text, "bold red"))


class PinPadScreen(ModalScreen[None]):
    """A manager's PIN for one action, at that moment: pick the manager, type the PIN, Enter.
    The app carries the action out and either closes the pad or says why the PIN was refused
    (the pad stays open to try again); Escape gives up."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Approve"),
        *PIN_KEYS,
        Binding("escape", "give_up", "Cancel"),
    ]
    DEFAULT_CSS = """
    PinPadScreen { align: center middle; }
    #pinpad { width: 64; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
    #pinpad-managers { height: auto; max-height: 6; }
    #pinpad-error { height: auto; }
    """

    class Submitted(Message):
        def __init__(self, pad: PinPadScreen, staff_id: str, pin: str) -> None:
            super().__init__()
            self.pad = pad
            self.staff_id = staff_id
            self.pin = pin

    class GaveUp(Message):
        def __init__(self, pad: PinPadScreen) -> None:
            super().__init__()
            self.pad = pad

    def __init__(
        self, *, title: str, detail: str, managers: list[StaffView], preselect: str | None, intent: object
    ) -> None:
        super().__init__(id="pinpad-screen")
        self.title_text = title
        self.detail = detail
        self.managers = managers
        self.preselect = preselect
        self.intent = intent  # what the app does once a manager approves (opaque to the pad)
        self.entry = PinEntry()
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="pinpad"):
            yield Static(Text(f"Manager approval: {self.title_text}", "bold"), id="pinpad-title")
            yield Static(self.detail, id="pinpad-detail")
            yield OptionList(*[Option(_label(m), id=m.staff_id) for m in self.managers], id="pinpad-managers")
            yield Static(id="pinpad-pin")
            yield Static(id="pinpad-error")
        yield Footer()

    def on_mount(self) -> None:
        names = self.query_one(OptionList)
        ids = [m.staff_id for m in self.managers]
        if not ids:
            self.show_error("No manager is known to this till: `cryptopos staff sync` when online")
        else:
            names.highlighted = ids.index(self.preselect) if self.preselect in ids else 0
            names.focus()
        self._render_pin()

    def _render_pin(self) -> None:
        self.query_one("#pinpad-pin", Static).update(Text(f"PIN  {self.entry.masked()}", "bold"))

    def action_digit(self, key: str) -> None:
        self.entry.press(key)
        self._render_pin()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        index = self.query_one(OptionList).highlighted
        if self.busy or index is None or not 0 <= index < len(self.managers):
            return
        if not self.entry.digits:
            self.show_error("Type the manager's PIN first")
            return
        self.busy = True
        pin = self.entry.take()
        self._render_pin()
        self.query_one("#pinpad-error", Static).update(Text("Checking…", "yellow"))
        self.post_message(self.Submitted(self, self.managers[index].staff_id, pin))

    def action_give_up(self) -> None:
        self.post_message(self.GaveUp(self))
        self.dismiss(None)

    def show_error(self, text: str) -> None:
        self.busy = False
        self.query_one("#pinpad-error", Static).update(Text(text, "bold red"))


class SettingValueScreen(ModalScreen[None]):
    """The new value of one setting, typed; a manager's PIN follows."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Cancel")]
    DEFAULT_CSS = """
    SettingValueScreen { align: center middle; }
    #setting-box { width: 60; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
    """

    class ValueEntered(Message):
        def __init__(self, screen: SettingValueScreen, key: str, text: str) -> None:
            super().__init__()
            self.screen_ = screen
            self.key = key
            self.text = text

    def __init__(self, key: str, label: str, current: str) -> None:
        super().__init__(id="setting-value")
        self.key = key
        self.label = label
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="setting-box"):
            yield Static(Text(f"{self.label} ({self.key})", "bold"))
            yield Static(f"now: {self.current}. The new value, then Enter (a manager approves it):")
            yield Input(value=self.current, id="setting-input")
            yield Static(id="setting-error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.ValueEntered(self, self.key, event.value))

    def show_error(self, text: str) -> None:
        self.query_one("#setting-error", Static).update(Text(text, "bold red"))

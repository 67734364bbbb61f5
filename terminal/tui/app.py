"""The merchant TUI application: routes the register's updates to screens, screens'
intents to the register, and runs readers in thread workers.

Screens never call the backend or a driver: they post messages (``AmountScreen.Charged``,
``AssetScreen.AssetChosen``...) that this app turns into register calls in workers.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from terminal.domain.session import FINAL_STATES, State
from terminal.tui.controller import Register
from terminal.tui.screens.amount import AmountScreen
from terminal.tui.screens.base import Host, ReceiptPrint
from terminal.tui.screens.records import (
    DetailScreen,
    HistoryScreen,
    ReceiptScreen,
    RefundScreen,
    ReportScreen,
    SettingsScreen,
)
from terminal.tui.screens.sale import AssetScreen, ReaderScreen, ResultScreen, TipScreen, WaitingScreen
from terminal.tui.screens.staff import PinPadScreen, SettingValueScreen, SignInScreen
from terminal.tui.updates import (
    BackendStatus,
    BackendUpdated,
    NoticeRaised,
    PinRefusedError,
    ReadersReleased,
    ReadersRequested,
    ReaderStatus,
    ReaderUpdated,
    Receipt,
    RegisterError,
    RosterChanged,
    SaleUpdated,
    SaleView,
    StaffUpdated,
    StaffView,
    Update,
)
from terminal.tui.widgets.readers import ReaderPanel

CSS = """
Screen { background: $surface; }
.panel { padding: 1 2; height: auto; }
.heading { text-style: bold; margin-top: 1; }
.dim { color: $text-muted; }
#amount-title { text-style: bold; padding: 1 2 0 2; }
#amount-display { text-style: bold; color: $accent; padding: 1 4; border: round $accent; width: auto; }
#amount-error { color: $error; padding: 0 2; height: 1; }
#keypad { padding: 1 0; width: auto; }
#tip-choices { margin: 1 0; }
#asset-list { margin: 1 0; }
#waiting-body { height: 1fr; }
#qr-pane { width: auto; min-width: 30; height: 1fr; }
#info-pane { width: 1fr; padding: 0 1; }
#readers { height: auto; }
#result-title { text-style: bold; margin-bottom: 1; }
#receipt-text { width: 38; padding: 0 1; }
#receipt-qr-pane { width: 1fr; }
#history-filters { height: 1; padding: 0 1; }
/* the amount screen has nine keys with the switch of user: one space less per key fits 80 columns */
AmountScreen FooterKey .footer-key--key { padding: 0 0 0 1; }
AmountScreen FooterKey .footer-key--description { padding: 0 0 0 1; }
#signin-body { height: auto; margin: 1 0; }
#signin-names { width: 40; height: auto; max-height: 9; }
#signin-pin-pane { width: 1fr; height: auto; padding: 0 2; }
#signin-keypad { margin-top: 1; }
#signin-error { height: auto; min-height: 1; }
"""


# What a manager's PIN pad approves (the pad carries one; the app carries it out).
@dataclass(frozen=True, slots=True)
class RefundIntent:
    reference: str
    to: str
    screen: RefundScreen


@dataclass(frozen=True, slots=True)
class CancelIntent:
    reference: str


@dataclass(frozen=True, slots=True)
class SettingIntent:
    key: str
    text: str


class PosApp(App[None]):
    """The till. ``register`` does the work; this app draws it and takes the keys."""

    CSS = CSS
    TITLE = "cryptopos"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS: ClassVar[list[BindingType]] = [Binding("u", "switch_user", "User")]

    sale: reactive[SaleView] = reactive(SaleView, always_update=True)
    staff_on: reactive[StaffView | None] = reactive(None, always_update=True)
    backend_status: reactive[BackendStatus] = reactive(lambda: BackendStatus(url=""), always_update=True)
    reader_statuses: reactive[dict[str, ReaderStatus]] = reactive(dict, always_update=True)

    def __init__(
        self,
        register: Register,
        *,
        demo: bool = False,
        receipts_dir: Path | None = None,
        tick_s: float = 0.5,
        reconcile_s: float = 10.0,
        heartbeat_s: float = 60.0,
        staff_hint: str = "",
        discovery_s: float = 30.0,
        refund_scan_s: float = 30.0,
    ) -> None:
        """``staff_hint``: a line under the sign-in screen (the demo's PINs)."""
        super().__init__()
        self.register = register
        self.demo = demo
        self.staff_hint = staff_hint
        self._route_held = False  # a sale update came while the till was locked
        self.merchant_name = register.settings.merchant.name
        self.receipts_dir = receipts_dir or register.settings.journal.path.parent / "receipts"
        self.tick_s = tick_s
        self.reconcile_s = reconcile_s
        self.heartbeat_s = heartbeat_s  # how often the till tells the backend its health
        self.discovery_s = discovery_s  # how often the status bar's link and notices are asked again
        self._readers_stop: dict[int, threading.Event] = {}
        self._generation = 0
        self._refund_scan: threading.Event | None = None
        self.refund_scan_s = refund_scan_s  # how long a refund's address scan waits for a code
        self._auto_printed: str | None = None  # the last sale printed on approval ([printer] auto)
        self.set_reactive(PosApp.backend_status, register.backend)
        register.subscribe(self._apply_update)

    # -- lifecycle -----------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return AmountScreen(self.register.currency)

    def on_mount(self) -> None:
        self.staff_on = self.register.signed_in
        for note in self.register.settings_notes:
            self.notify(note, title="Till setting not applied", severity="warning", timeout=8)
        if self.staff_on is None:
            self.push_screen(SignInScreen())
        # after the first paint: building an embedded backend imports FastAPI (~0.3 s)
        self.call_after_refresh(self._spawn, self.register.connect, name="connect")
        self.set_interval(self.tick_s, self._tick, name="tick")
        self.set_interval(self.reconcile_s, self._reconcile, name="reconcile")
        self.set_interval(self.heartbeat_s, self._heartbeat, name="heartbeat")
        self.set_interval(self.discovery_s, self._rediscover, name="discovery")

    async def on_unmount(self) -> None:
        self._stop_refund_scan()
        for stop in self._readers_stop.values():
            stop.set()
        await self.register.aclose()

    async def on_event(self, event: events.Event) -> None:
        # any key or click is activity: the idle lock counts from the last one
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self.register.touch()
        await super().on_event(event)

    async def _tick(self) -> None:
        if self.register.idle_due():
            self.lock(f"idle {int(self.register.idle.limit_s)} s")
        await self._guard(self.register.tick)
        if self.register.link_came_back:
            self._rediscover()

    def _rediscover(self) -> None:
        """Ask discovery again (a rollout's notice, retiring versions): one question at a time."""
        if any(w.name == "discovery" and not w.is_finished for w in self.workers):
            return  # the one asking now answers for this too
        self.register.link_came_back = False
        self._spawn(self.register.connect, name="discovery")

    async def _reconcile(self) -> None:
        if self.register.backend.queued:
            await self._guard(self.register.reconcile)

    def _heartbeat(self) -> None:
        # a worker, so a slow backend holds neither the clock nor a sale step; silent by design
        if not any(w.name == "heartbeat" and not w.is_finished for w in self.workers):
            self.run_worker(self.register.heartbeat(), name="heartbeat", group="health", exit_on_error=False)

    # -- running register calls ----------------------------------------------------------

    async def _guard(self, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        try:
            return await call(*args)
        except RegisterError as exc:
            self.notify(
                f"{exc.message}\n→ {exc.hint}" if exc.hint else exc.message, title=exc.title, severity="error"
            )
        except Exception as exc:  # never a traceback on the till: say what happened and what to do
            self.log.error(f"{type(exc).__name__}: {exc}")
            self.notify(
                f"{type(exc).__name__}: {exc}\n→ the sale is journaled; check History, then try again",
                title="Unexpected error",
                severity="error",
            )
        return None

    def _spawn(self, call: Callable[..., Awaitable[Any]], *args: Any, name: str) -> Worker[Any]:
        return self.run_worker(self._guard(call, *args), name=name, group="register", exit_on_error=False)

    # -- the register's updates ------------------------------------------------------

    def _apply_update(self, update: Update) -> None:
        match update:
            case SaleUpdated(view):
                self.sale = view
                self._route(view)
                self._auto_print(view)
            case BackendUpdated(status):
                self.backend_status = status
            case ReaderUpdated(status):
                self.reader_statuses = {**self.reader_statuses, status.device: status}
            case NoticeRaised(notice):
                body = f"{notice.message}\n→ {notice.hint}" if notice.hint else notice.message
                self.notify(body, title=notice.title, severity=notice.severity, timeout=6)
            case ReadersRequested(devices, generation):
                self.reader_statuses = {d: ReaderStatus(d, "starting") for d in devices}
                stop = threading.Event()
                self._readers_stop[generation] = stop
                self._generation = generation
                for device in devices:
                    self._start_reader(device, stop)
            case ReadersReleased(generation):
                released = self._readers_stop.pop(generation, None)
                if released is not None:
                    released.set()
            case StaffUpdated(signed_in, why):
                before = self.staff_on
                self.staff_on = signed_in
                if signed_in is None:
                    self._show_sign_in(why)
                else:
                    self._signed_in(before, signed_in)
            case RosterChanged():
                for screen in self.screen_stack:
                    if isinstance(screen, SignInScreen) and screen.is_attached:
                        screen.reload()

    def _start_reader(self, device: str, stop: threading.Event) -> None:
        def sink(event: Any) -> None:
            self.post_message(ReaderPanel.Reported(event))  # thread-safe

        self.run_worker(
            lambda: self.register.reader_loop(device, sink, stop),
            name=f"reader {device}",
            group="readers",
            thread=True,
            exit_on_error=False,
        )

    def _route(self, view: SaleView) -> None:
        if self.staff_on is None:
            self._route_held = True  # shown to whoever signs in next
            return
        top = self.screen
        if view.state is State.IDLE:
            self._to_amount()
        elif view.state in (State.AWAITING_PAYMENT, State.SUBMITTING) and not any(
            isinstance(screen, WaitingScreen) for screen in self.screen_stack
        ):
            self.push_screen(WaitingScreen(demo=self.demo))
        elif view.state is State.AMOUNT_ENTERED and isinstance(top, WaitingScreen):
            self.pop_screen()  # a re-quote was refused: back to the asset choice, which says why
        elif view.state is State.CANCELLED:
            self.register.reset()
            self.notify("Sale cancelled; nothing was charged.", title="Cancelled", timeout=3)
        elif (view.state in FINAL_STATES or view.state is State.UNKNOWN_OUTCOME) and not isinstance(
            top, ResultScreen
        ):
            self._to_amount()
            self.push_screen(ResultScreen(id="result"))

    def _auto_print(self, view: SaleView) -> None:
        """With ``[printer] auto``, an approved sale's receipt prints once, without a key (also a
        sale approved late, by an inquiry or reconcile)."""
        if (
            view.state is State.APPROVED
            and view.reference is not None
            and view.reference != self._auto_printed
            and self.register.settings.printer.auto
        ):
            self._auto_printed = view.reference
            self._spawn(self.register.print_receipt, view.reference, name="print")

    def _to_amount(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if isinstance(self.screen, AmountScreen):
            self.screen.clear()

    # -- staff: sign-in, lock, a manager's PIN pad --------------------------------------------

    def _show_sign_in(self, why: str) -> None:
        # an open PIN pad or prompt belonged to the person who was signed in
        while isinstance(self.screen, ModalScreen):
            self.pop_screen()
        if not isinstance(self.screen, SignInScreen):
            self.push_screen(SignInScreen(why=why))

    def _signed_in(self, before: StaffView | None, now: StaffView) -> None:
        while isinstance(self.screen, SignInScreen):
            self.pop_screen()
        someone_else = before is not None and before.staff_id != now.staff_id
        if someone_else and self.register.session.state in (State.IDLE, *FINAL_STATES):
            self.action_new_sale()  # the next person starts at a fresh amount
        if self._route_held:
            self._route_held = False
            self._route(self.sale)

    def lock(self, why: str) -> None:
        self.register.lock(why)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_user":
            return self.staff_on is not None and not isinstance(self.screen, ModalScreen)
        return True

    def action_switch_user(self) -> None:
        self.lock("switch user")

    def on_sign_in_screen_sign_in_requested(self, message: SignInScreen.SignInRequested) -> None:
        screen = self.screen

        async def sign_in() -> None:
            try:
                await self.register.sign_in(message.staff_id, message.pin)
            except RegisterError as exc:
                if isinstance(screen, SignInScreen) and screen.is_attached:
                    screen.show_error(f"{exc.title}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
                    return
                raise

        self._spawn(sign_in, name="sign-in")

    def _ask_manager(self, title: str, detail: str, intent: object) -> None:
        me = self.staff_on
        preselect = me.staff_id if me is not None and me.role == "manager" else None
        self.push_screen(
            PinPadScreen(
                title=title,
                detail=detail,
                managers=self.register.managers(),
                preselect=preselect,
                intent=intent,
            )
        )

    def on_pin_pad_screen_submitted(self, message: PinPadScreen.Submitted) -> None:
        pad, intent = message.pad, message.pad.intent
        staff_id, pin = message.staff_id, message.pin

        async def approved() -> None:
            try:
                done = await self._carry_out(intent, staff_id, pin)
            except PinRefusedError as exc:
                if pad.is_attached:  # the pad stays open: another PIN, or Escape
                    pad.show_error(f"{exc.title}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
                return
            except RegisterError as exc:
                if pad.is_attached:
                    pad.dismiss(None)
                if isinstance(intent, RefundIntent) and intent.screen.is_attached:
                    intent.screen.show_result(f"✖ {exc.title}: {exc.message}\n→ {exc.hint}")
                raise
            if pad.is_attached:
                pad.dismiss(None)
            if done:
                self.notify(done, title="Approved", timeout=4)

        self._spawn(approved, name="approval")

    async def _carry_out(self, intent: object, staff_id: str, pin: str) -> str:
        """The action a manager approved; what to tell the cashier (empty: the screen shows it)."""
        match intent:
            case RefundIntent(reference, to, screen):
                refund_id = await self.register.refund(reference, to=to, approver=staff_id, pin=pin)
                if screen.is_attached:
                    screen.show_result(f"✔ refund {refund_id} submitted, approved by {staff_id}")
                for s in self.screen_stack:
                    if isinstance(s, DetailScreen):
                        s.reload()
                return ""
            case CancelIntent(reference):
                await self.register.cancel_by_hand(staff_id, pin)
                return f"sale {reference} cancelled by hand"
            case SettingIntent(key, text):
                await self.register.change_setting(key, text, staff_id, pin)
                for s in self.screen_stack:
                    if isinstance(s, SettingsScreen) and s.is_attached:
                        s.show_rows()
                return f"{key} changed"
        raise AssertionError(f"no such approval {intent!r}")  # pragma: no cover

    def on_pin_pad_screen_gave_up(self, message: PinPadScreen.GaveUp) -> None:
        intent = message.pad.intent
        if isinstance(intent, RefundIntent) and intent.screen.is_attached:
            intent.screen.show_result("Not sent: a manager's approval is needed for a refund")

    def on_result_screen_cancel_by_hand_requested(self, _message: ResultScreen.CancelByHandRequested) -> None:
        view = self.sale
        if view.state is not State.UNKNOWN_OUTCOME or view.reference is None:
            return
        self._ask_manager(
            "cancel a sale by hand",
            f"Sale {view.reference}: the backend's answer is unknown; it may have been charged.\n"
            "Cancelled by hand, the till stops asking about it.",
            CancelIntent(view.reference),
        )

    def on_settings_screen_change_requested(self, message: SettingsScreen.ChangeRequested) -> None:
        from terminal.staff import tillsettings

        editable = tillsettings.EDITABLE[message.key]
        if message.text is None:
            now = tillsettings.shown(tillsettings.current(self.register.loaded, message.key))
            self.push_screen(SettingValueScreen(message.key, editable.label, now))
            return
        self._ask_setting(message.key, message.text, None)

    def on_setting_value_screen_value_entered(self, message: SettingValueScreen.ValueEntered) -> None:
        self._ask_setting(message.key, message.text, message.screen_)

    def _ask_setting(self, key: str, text: str, prompt: SettingValueScreen | None) -> None:
        try:
            value = self.register.check_setting(key, text)
        except RegisterError as exc:
            if prompt is not None:
                prompt.show_error(f"{exc.message}")
            else:
                self.notify(exc.message, title=exc.title, severity="error")
            return
        if prompt is not None:
            prompt.dismiss(None)
        self._ask_manager(f"change {key}", f"{key} → {value}", SettingIntent(key, value))

    # -- screens' intents -------------------------------------------------------------

    def on_amount_screen_charged(self, message: AmountScreen.Charged) -> None:
        self.push_screen(TipScreen(message.amount))

    def on_tip_screen_tip_chosen(self, message: TipScreen.TipChosen) -> None:
        try:
            self.register.start_sale(message.base, message.tip)
        except RegisterError as exc:
            self.notify(exc.message, title=exc.title, severity="error")
            return
        self.push_screen(AssetScreen([a.code for a in self.register.accepted_assets()]))

    def on_tip_screen_backed(self, _message: TipScreen.Backed) -> None:
        self.pop_screen()

    def on_asset_screen_asset_chosen(self, message: AssetScreen.AssetChosen) -> None:
        self._spawn(self.register.choose_asset, message.code, name="quote")

    def on_waiting_screen_simulated(self, message: WaitingScreen.Simulated) -> None:
        device = self.register.demo_device(message.kind)
        stop = self._readers_stop.get(self._generation)
        if device is not None and stop is not None:
            self._start_reader(device, stop)

    def on_waiting_screen_move_requested(self, _message: WaitingScreen.MoveRequested) -> None:
        configured = self.register.settings.terminal.readers
        devices = tuple(dict.fromkeys((*self.register.sale_readers, *configured)))
        states = {
            d: s.state + (f" ({s.detail})" if s.detail else "") for d, s in self.reader_statuses.items()
        }
        self.push_screen(ReaderScreen(devices, states))

    def on_reader_screen_readers_chosen(self, message: ReaderScreen.ReadersChosen) -> None:
        screen = self.screen
        try:
            self.register.use_readers(message.devices)
        except RegisterError as exc:
            if isinstance(screen, ReaderScreen):
                screen.show_error(f"{exc.title}: {exc.message}" + (f"\n→ {exc.hint}" if exc.hint else ""))
            return
        if isinstance(screen, ReaderScreen):
            self.pop_screen()

    def on_reader_panel_reported(self, message: ReaderPanel.Reported) -> None:
        payment = self.register.reader_reported(message.event)
        if payment is None:
            return
        if self._refund_scan is not None:
            # the readers were started for a refund: what they read is the customer's address
            if isinstance(self.screen, RefundScreen):
                self.screen.scanned(payment[0])
            self._stop_refund_scan()
            return
        self._spawn(self.register.present, *payment, name="present")

    def on_refund_screen_scan_requested(self, message: RefundScreen.ScanRequested) -> None:
        screen = self.screen
        if not isinstance(screen, RefundScreen):
            return
        if self.register.session.state not in (State.IDLE, State.UNKNOWN_OUTCOME, *FINAL_STATES):
            screen.scan_refused("a sale is using the readers")  # never while a sale holds them
            return
        devices: tuple[str, ...] = tuple(self.register.settings.terminal.readers)
        if message.demo:
            device = self.register.demo_refund_device(screen.reference)
            if device is None:
                return
            devices = (device,)
        if self._refund_scan is None:
            self._refund_scan = threading.Event()
            stop = self._refund_scan
            # a scan that finds nothing ends (the demo's readers present nothing by themselves):
            # the cashier is told and can type the address or scan again
            self.set_timer(self.refund_scan_s, lambda: self._refund_scan_timed_out(stop))
        elif not message.demo:
            return  # one scan at a time
        for device in devices:
            self._start_reader(device, self._refund_scan)
        screen.scanning(self.refund_scan_s)

    def _refund_scan_timed_out(self, stop: threading.Event) -> None:
        if self._refund_scan is not stop:
            return  # scanned, stopped or replaced already
        self._stop_refund_scan()
        if isinstance(self.screen, RefundScreen):
            self.screen.scan_timed_out(self.refund_scan_s)

    def on_refund_screen_scan_stopped(self, _message: RefundScreen.ScanStopped) -> None:
        self._stop_refund_scan()

    def _stop_refund_scan(self) -> None:
        if self._refund_scan is not None:
            self._refund_scan.set()
            self._refund_scan = None

    def on_receipt_screen_save_requested(self, message: ReceiptScreen.SaveRequested) -> None:
        try:
            self.save_receipt(message.receipt)
        except OSError as exc:  # a full disk or a bad folder is a notice, never a crashed till
            self.notify(
                f"{exc}\n→ the sale is journaled; check the receipts folder ({self.receipts_dir})",
                title="Receipt not saved",
                severity="error",
            )

    @on(ReceiptPrint)
    def _print_receipt(self, message: ReceiptPrint) -> None:
        """The print key on the result, receipt or detail screen: print, or print again."""
        self._spawn(self.register.print_receipt, message.reference, name="print")

    def on_report_screen_print_requested(self, message: ReportScreen.PrintRequested) -> None:
        self._spawn(self.register.print_report, message.day, name="print")

    def on_refund_screen_refund_requested(self, message: RefundScreen.RefundRequested) -> None:
        screen = self.screen
        if not isinstance(screen, RefundScreen):
            return
        try:  # a refund that cannot be made is said before a manager is asked
            self.register.check_refund(message.reference, to=message.to)
        except RegisterError as exc:
            screen.show_result(f"✖ {exc.title}: {exc.message}" + (f"\n→ {exc.hint}" if exc.hint else ""))
            return
        screen.show_result("Waiting for a manager's approval…")
        self._ask_manager(
            "refund",
            f"Refund sale {message.reference}\nto {message.to.strip()}",
            RefundIntent(message.reference, message.to, screen),
        )

    def on_settings_screen_doctor_requested(self, _message: SettingsScreen.DoctorRequested) -> None:
        screen = self.screen

        async def doctor() -> None:
            checks = await self.register.doctor()
            if isinstance(screen, SettingsScreen) and screen.is_attached:
                screen.show_checks(checks)

        self._spawn(doctor, name="doctor")

    # -- actions (keys) -----------------------------------------------------------------

    def action_cancel_sale(self) -> None:
        self._spawn(self.register.cancel, name="cancel")

    def action_new_sale(self) -> None:
        self.register.reset()
        self._to_amount()

    def action_receipt(self) -> None:
        receipt = self.register.receipt()
        if receipt is None:
            self.notify("Only an approved or declined sale has a receipt.", title="No receipt")
            return
        self.push_screen(ReceiptScreen(receipt))

    def action_history(self) -> None:
        self.push_screen(HistoryScreen())

    def action_report(self) -> None:
        self.push_screen(ReportScreen(id="report"))

    def action_settings(self) -> None:
        self.push_screen(SettingsScreen(id="settings"))

    # -- receipts -----------------------------------------------------------------------

    def save_receipt(self, receipt: Receipt) -> tuple[Path, Path | None]:
        """Write the receipt as text, and as PNG (this screen's picture) when rsvg-convert exists."""
        from terminal.tui.pictures import PictureError, svg_to_png

        self.receipts_dir.mkdir(parents=True, exist_ok=True)
        stem = self.receipts_dir / receipt.reference
        text_path = stem.with_suffix(".txt")
        text_path.write_text(receipt.text() + f"\n{receipt.link}\n", encoding="utf-8")
        png: Path | None = None
        try:
            png = svg_to_png(
                self.export_screenshot(title=f"receipt {receipt.reference}"), stem.with_suffix(".png")
            )
        except (PictureError, OSError) as exc:
            self.notify(f"{exc}\n→ the text receipt is saved", title="No PNG receipt", severity="warning")
        self.notify(f"{text_path}" + (f"\n{png}" if png else ""), title="Receipt saved", timeout=4)
        return text_path, png


def _screens_host(app: PosApp) -> Host:
    """Never called: mypy checks here that the app is what the screens expect of it."""
    return app

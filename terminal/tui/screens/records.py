"""Screens over the journal and the configuration: receipt, history, detail and refund,
the daily report, settings with doctor results."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from terminal.domain.money import ASSETS, Money, MoneyFormat
from terminal.domain.zreport import ZReport
from terminal.journal import SaleRecord
from terminal.tui.screens.base import PosScreen, ReceiptPrint
from terminal.tui.updates import Check, Receipt
from terminal.tui.widgets.qr import QrCode

STATE_FILTERS: tuple[str | None, ...] = (
    None,
    "approved",
    "declined",
    "unknown_outcome",
    "expired",
    "cancelled",
)


def _when(ts: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ts, zone).strftime("%m-%d %H:%M")


def _fiat(r: SaleRecord, money: MoneyFormat) -> str:
    a = ASSETS.get(r.fiat_currency)
    return money(Money(r.fiat_minor, a)) if a else f"{r.fiat_minor} {r.fiat_currency}"


def _crypto(r: SaleRecord, money: MoneyFormat) -> str:
    a = ASSETS.get(r.asset)
    if a is None or r.crypto_minor is None:
        return r.asset
    return money(Money(r.crypto_minor, a), trim=True)


class ReceiptScreen(PosScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("P", "print", "Print"),
        Binding("s", "save", "Save .txt+.png"),
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "app.new_sale", "New sale"),
    ]

    class SaveRequested(Message):
        def __init__(self, receipt: Receipt) -> None:
            super().__init__()
            self.receipt = receipt

    class PrintRequested(ReceiptPrint):
        pass

    def __init__(self, receipt: Receipt) -> None:
        super().__init__(id="receipt")
        self.receipt = receipt

    def body(self) -> ComposeResult:
        with Horizontal():
            yield Static(self.receipt.text(width=36), id="receipt-text")
            with Vertical(id="receipt-qr-pane"):
                # level L: the receipt's link (about 90 characters) is then 41 columns (version 5)
                # where M needs 45, and beside the 38-column receipt only 42 are left at 80 columns;
                # a screen's code is not worn paper, it needs little error correction
                yield QrCode(self.receipt.link, id="receipt-qr", correction="L")

    def action_save(self) -> None:
        self.post_message(self.SaveRequested(self.receipt))

    def action_print(self) -> None:
        self.post_message(self.PrintRequested(self.receipt.reference))


class HistoryScreen(PosScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "detail", "Detail (or Enter)"),
        Binding("f", "cycle_state", "State filter"),
        Binding("a", "cycle_asset", "Asset filter"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__(id="history")
        self.state_filter: str | None = None
        self.asset_filter: str | None = None
        self.references: list[str] = []

    def body(self) -> ComposeResult:
        yield Static(id="history-filters")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("time", "state", "amount", "paid", "reference")
        self.reload()
        table.focus()

    def reload(self) -> None:
        records = self.register.history(state=self.state_filter, asset_code=self.asset_filter)
        table = self.query_one(DataTable)
        table.clear()
        self.references = [r.reference for r in records]
        money, zone = self.register.money, self.register.zone
        for r in records:
            table.add_row(
                _when(r.created_at, zone),
                r.state,
                _fiat(r, money),
                _crypto(r, money),
                r.reference,
                key=r.reference,
            )
        self.query_one("#history-filters", Static).update(
            Text(
                f"state: {self.state_filter or 'all'}   asset: {self.asset_filter or 'all'}   "
                f"{len(records)} sale{'s' if len(records) != 1 else ''}",
                "bold",
            )
        )

    def action_cycle_state(self) -> None:
        i = STATE_FILTERS.index(self.state_filter)
        self.state_filter = STATE_FILTERS[(i + 1) % len(STATE_FILTERS)]
        self.reload()

    def action_cycle_asset(self) -> None:
        options: list[str | None] = [None, *self.register.settings.terminal.accepted_assets]
        i = options.index(self.asset_filter) if self.asset_filter in options else 0
        self.asset_filter = options[(i + 1) % len(options)]
        self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    def action_detail(self) -> None:
        table = self.query_one(DataTable)
        if not self.references:
            return
        self.app.push_screen(DetailScreen(self.references[table.cursor_row]))


class DetailScreen(PosScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "refund", "Refund"),
        Binding("P", "print", "Print receipt"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    class PrintRequested(ReceiptPrint):
        pass

    def __init__(self, reference: str) -> None:
        super().__init__(id="detail")
        self.reference = reference

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="detail-text")

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        record, events = self.register.detail(self.reference)
        money = self.register.money
        created = datetime.fromtimestamp(record.created_at, self.register.zone)
        rows = [
            ("reference", record.reference),
            ("state", record.state),
            ("amount", _fiat(record, money)),
            ("paid", _crypto(record, money)),
            ("quote", record.quote_id or "-"),
            ("payment", record.payment_id or "-"),
            ("reason", record.reason or "-"),
            ("created", created.strftime("%Y-%m-%d %H:%M:%S %Z")),
            ("steps", " → ".join(events)),
        ]
        self.query_one("#detail-text", Static).update(Text("\n".join(f"{k:<10} {v}" for k, v in rows)))

    def action_refund(self) -> None:
        self.app.push_screen(RefundScreen(self.reference, demo=self.pos.demo))

    def action_print(self) -> None:
        self.post_message(self.PrintRequested(self.reference))


class RefundScreen(PosScreen):
    """Refund an approved sale to the address the customer shows (scanned) or tells (typed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f2", "scan", "Scan address"),
        Binding("f3", "demo_address", "Demo: customer shows address"),
    ]

    class ScanRequested(Message):
        """Start the readers to scan the customer's receive QR (``demo``: the demo customer shows theirs)."""

        def __init__(self, *, demo: bool = False) -> None:
            super().__init__()
            self.demo = demo

    class ScanStopped(Message):
        """The refund screen went away: stop scanning."""

    class RefundRequested(Message):
        def __init__(self, reference: str, to: str) -> None:
            super().__init__()
            self.reference = reference
            self.to = to

    def __init__(self, reference: str, *, demo: bool = False) -> None:
        super().__init__(id="refund")
        self.reference = reference
        self.demo = demo

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.demo if action == "demo_address" else True

    def body(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static(f"Refund sale {self.reference}")
            yield Static("Customer's receive address (F2 scans their QR, or type it), then Enter:")
            yield Input(placeholder="address", id="refund-to")
            yield Static(id="refund-state")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_scan(self) -> None:
        self.post_message(self.ScanRequested())

    def action_demo_address(self) -> None:
        self.post_message(self.ScanRequested(demo=True))

    def scanning(self, seconds: float) -> None:
        self.query_one("#refund-state", Static).update(
            f"Scanning for {seconds:.0f} s: hold the customer's receive QR to the camera, or type it…"
        )

    def scan_refused(self, why: str) -> None:
        self.query_one("#refund-state", Static).update(f"Cannot scan now: {why}. Type the address.")

    def scan_timed_out(self, seconds: float) -> None:
        self.query_one("#refund-state", Static).update(
            f"Nothing scanned in {seconds:.0f} s. Type the address, or F2 to scan again."
        )

    def scanned(self, payload: str) -> None:
        self.query_one(Input).value = payload
        self.query_one("#refund-state", Static).update("Scanned. Check it with the customer, then Enter.")

    def on_unmount(self) -> None:
        self.app.post_message(self.ScanStopped())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#refund-state", Static).update("Submitting the refund…")
        self.post_message(self.RefundRequested(self.reference, event.value))

    def show_result(self, text: str) -> None:
        self.query_one("#refund-state", Static).update(text)


class ReportScreen(PosScreen):
    """The day's Z-report, the one ``cryptopos report`` prints; ``P`` prints it on paper."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("P", "print", "Print"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    class PrintRequested(Message):
        """Print the Z-report of ``day`` on the receipt printer."""

        def __init__(self, day: date) -> None:
            super().__init__()
            self.day = day

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report: ZReport | None = None

    def body(self) -> ComposeResult:
        with VerticalScroll(classes="panel"):
            yield Static(id="report-text")

    def on_mount(self) -> None:
        self.report = self.register.daily_report()
        header, *rows = self.report.lines(money=self.register.money)
        lines = [f"{header}, terminal {self.register.settings.terminal.id}", *rows]
        self.query_one("#report-text", Static).update(Text("\n".join(lines)))

    def action_print(self) -> None:
        if self.report is not None:
            self.post_message(self.PrintRequested(self.report.window.day))


class SettingsScreen(PosScreen):
    """The effective configuration with the doctor's checks; the offline keys and the idle lock
    can be changed here, each with a manager's PIN."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "doctor", "Doctor"),
        Binding("o", "change('offline.enabled')", "Offline"),
        Binding("m", "change('offline.max_payment')", "Max payment"),
        Binding("t", "change('offline.max_total')", "Max total"),
        Binding("i", "change('staff.idle_lock_s')", "Idle lock"),
        Binding("escape", "app.pop_screen", "Back"),
    ]

    class DoctorRequested(Message):
        pass

    class ChangeRequested(Message):
        """Change ``key`` to ``text`` (None: ask for the value first)."""

        def __init__(self, key: str, text: str | None) -> None:
            super().__init__()
            self.key = key
            self.text = text

    def body(self) -> ComposeResult:
        with VerticalScroll(id="settings-scroll"):
            yield Static("doctor: running…", id="doctor")
            yield Static(id="settings-rows")

    def on_mount(self) -> None:
        self.show_rows()
        self.query_one("#settings-scroll").focus()
        self.action_doctor()

    def show_rows(self) -> None:
        rows = self.register.settings_rows()
        width = max(len(k) for k, _, _ in rows)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("effective configuration (value, where it came from):\n", "bold")
        for key, value, source in rows:
            shown = value if len(value) <= 30 else value[:29] + "…"
            text.append(f"{key:<{width}} {shown:<30} ")
            text.append(f"{source[:24]}\n", "dim")
        self.query_one("#settings-rows", Static).update(text)

    def action_change(self, key: str) -> None:
        if key == "offline.enabled":
            on = self.register.settings.offline.enabled
            self.post_message(self.ChangeRequested(key, "off" if on else "on"))
        else:
            self.post_message(self.ChangeRequested(key, None))

    def action_doctor(self) -> None:
        self.query_one("#doctor", Static).update("doctor: running…")
        self.post_message(self.DoctorRequested())

    def show_checks(self, checks: list[Check]) -> None:
        text = Text()
        text.append("doctor:\n", "bold")
        for c in checks:
            text.append(" ✔ " if c.ok else " ✖ ", "green" if c.ok else "bold red")
            text.append(f"{c.name}: {c.detail}\n")
        self.query_one("#doctor", Static).update(text)

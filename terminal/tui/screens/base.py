"""What every screen shares: the status line on top and the keys in the footer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from terminal.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from datetime import date, tzinfo

    from terminal.config import Settings
    from terminal.domain.money import MoneyFormat
    from terminal.domain.zreport import ZReport
    from terminal.journal import SaleRecord
    from terminal.tui.updates import InvoiceDesk, SaleView, StaffView


class Queries(Protocol):
    """The register's read-only queries a screen may make; intents go through messages."""

    @property
    def settings(self) -> Settings: ...

    @property
    def invoices(self) -> InvoiceDesk | None: ...

    @property
    def money(self) -> MoneyFormat: ...

    @property
    def zone(self) -> tzinfo: ...

    def history(
        self, *, state: str | None = None, asset_code: str | None = None, text: str = ""
    ) -> list[SaleRecord]: ...

    def detail(self, reference: str) -> tuple[SaleRecord, list[str]]: ...

    def daily_report(self, *, day: date | None = None) -> ZReport: ...

    def settings_rows(self) -> list[tuple[str, str, str]]: ...

    def seconds_left(self) -> float | None: ...

    @property
    def signed_in(self) -> StaffView | None: ...

    def staff_roster(self) -> list[StaffView]: ...


class Host(Protocol):
    """What a screen needs of its app (:class:`terminal.tui.app.PosApp` is one). A protocol, so
    the screens do not import the app that imports them."""

    @property
    def sale(self) -> SaleView: ...

    @property
    def register(self) -> Queries: ...

    @property
    def staff_hint(self) -> str: ...

    demo: bool  # the demo till: simulated readers that present something only on a demo key


class ReceiptPrint(Message):
    """Print (again) the receipt of the sale ``reference``; each screen with a print key nests
    its own ``PrintRequested`` of this."""

    def __init__(self, reference: str) -> None:
        super().__init__()
        self.reference = reference


class PosScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def follow(self, attribute: str, render: Callable[[Any], None]) -> None:
        """Re-render on every change of the app's ``attribute`` while this screen has its widgets.

        A change can land while the screen is still composing or already being dismissed
        (the register runs in workers): then there is nothing to draw, not an error.
        """

        def guarded(value: Any) -> None:
            with contextlib.suppress(NoMatches):
                render(value)

        self.watch(self.app, attribute, guarded)

    @property
    def pos(self) -> Host:
        return cast("Host", self.app)

    @property
    def register(self) -> Queries:
        """Read-only queries (history, report, settings); intents go through messages."""
        return self.pos.register

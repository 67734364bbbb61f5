"""What every part of the register shares: the settings, the journal, the clock, the backend
client (built late), the current sale's view, and the one ``emit`` callback to the host."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from drivers.registry import Reader
from terminal.config import LoadedSettings, Settings
from terminal.domain import session as s
from terminal.domain.money import ASSETS, Asset, MoneyFormat
from terminal.journal import Journal
from terminal.staff.desk import StaffDesk
from terminal.staff.rules import IdleTimer
from terminal.tui.updates import (
    BackendStatus,
    BackendUpdated,
    InvoiceDesk,
    Notice,
    NoticeRaised,
    ReaderStatus,
    SaleUpdated,
    SaleView,
    Severity,
    Update,
)

if TYPE_CHECKING:
    from terminal.client import BackendClient
    from terminal.tui.till.sale import TillSale


class TillBase:
    """The register's shared state; :class:`~terminal.tui.controller.Register` sets it up."""

    loaded: LoadedSettings
    settings: Settings
    journal: Journal
    clock: Callable[[], float]
    reader_factory: Callable[..., Reader]
    invoices: InvoiceDesk | None
    demo: bool
    demo_card: Callable[[], str] | None  # the next tap of the demo Bolt Card
    setup: Callable[[], Awaitable[None]] | None  # run once, when the backend first answers
    core: TillSale  # the one sale core (terminal.sale) the headless CLI uses too
    staff: StaffDesk  # who is signed in, PIN checks, approvals, the roster
    idle: IdleTimer  # when the till locks
    view: SaleView
    backend: BackendStatus
    readers: dict[str, ReaderStatus]
    sale_readers: tuple[str, ...]  # the readers the current sale uses (the configured ones, or moved)
    lost: dict[str, str]  # device -> why it cannot take a payment now
    link_came_back: bool  # the backend answered again after being away since discovery was last asked
    last_reconcile_at: float | None  # when a reconcile last reached the backend (the heartbeat says)
    _client: BackendClient | None
    _client_factory: Callable[[], BackendClient] | None
    _emit: Callable[[Update], None]
    _generation: int  # of the readers requested for the current sale
    _deadline: float | None  # the end of the payment window (it spans re-quotes)
    _lock: asyncio.Lock  # one sale step at a time

    @property
    def session(self) -> s.PaymentSession:
        """The current sale's session (owned by the sale core)."""
        return self.core.session

    @property
    def client(self) -> BackendClient:
        if self._client is None:
            assert self._client_factory is not None
            self._client = self._client_factory()
        return self._client

    async def ensure_client(self) -> BackendClient:
        """Build the client off the event loop the first time (an embedded backend imports FastAPI)."""
        if self._client is None:
            assert self._client_factory is not None
            self._client = await asyncio.to_thread(self._client_factory)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def subscribe(self, emit: Callable[[Update], None]) -> None:
        self._emit = emit

    def accepted_assets(self) -> list[Asset]:
        return [ASSETS[c] for c in self.settings.terminal.accepted_assets]

    @property
    def currency(self) -> Asset:
        return ASSETS[self.settings.terminal.fiat_currency]

    @property
    def money(self) -> MoneyFormat:
        """Amounts as the merchant reads them (``[merchant] locale``)."""
        from terminal.display import money_format

        return money_format(self.settings.merchant.locale)

    @property
    def zone(self) -> tzinfo:
        """The merchant's time zone: the business day and the times shown."""
        return self.settings.merchant.zone()

    async def _run(self, step: Awaitable[None]) -> None:
        """One step of the core, then the view catches up with the session."""
        await step
        self._publish(
            quotes_requested=self.session.quotes_requested, reason=self.session.reason or self.view.reason
        )

    def _publish(self, **changes: Any) -> None:
        self.view = replace(self.view, state=self.core.shown_state(), **changes)
        self._emit(SaleUpdated(self.view))

    def _notice(self, title: str, message: str, hint: str = "", severity: Severity = "warning") -> None:
        self._emit(NoticeRaised(Notice(title, message, hint, severity)))

    def _set_backend(self, **changes: Any) -> None:
        self.backend = replace(self.backend, **changes)
        self._emit(BackendUpdated(self.backend))

    def _queued(self) -> int:
        """Sales the till still owes the backend an answer for: unknown outcomes and the
        offline queue (forwarded when the backend is back)."""
        return len(self.journal.sales(states=("unknown_outcome", "offline_queued", "forwarding")))

"""The register: the one object between the merchant screens and the I/O.

Screens send intents (``start_sale``, ``choose_asset``, ``cancel``...) and render what the
register emits; they never touch httpx, the journal or a driver. The register runs the same
sale core as the headless CLI (:mod:`terminal.sale`), step by step from keys, ticks and reader
workers; the core journals every step before the network call that follows it. The register
reports back through one ``emit`` callback with :class:`~terminal.tui.updates.Update` values.
Nothing here imports Textual, so it runs in any event loop.

Its parts live in :mod:`terminal.tui.till`, one concern a module (the sale, the invoice, refunds,
records and the report, printing, settings and doctor, readers, the backend link); they share the state
:class:`~terminal.tui.till.base.TillBase` declares, which :class:`Register` sets up here. Its
values and errors (``RegisterError``, ``NotSupportedError``) live in :mod:`terminal.tui.updates`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from drivers.registry import Reader, open_reader
from terminal.config import LoadedSettings
from terminal.journal import Journal
from terminal.sale import new_reference, offline_policy
from terminal.staff import tillsettings
from terminal.staff.desk import StaffDesk
from terminal.staff.rules import IdleTimer
from terminal.tui.till.doctor import Doctor
from terminal.tui.till.printing import PrintingSteps
from terminal.tui.till.readers import ReaderSteps
from terminal.tui.till.refunds import RefundSteps
from terminal.tui.till.sale import SaleSteps, TillSale
from terminal.tui.till.staff import StaffSteps
from terminal.tui.updates import BackendStatus, InvoiceDesk, SaleView, Update

if TYPE_CHECKING:
    from terminal.client import BackendClient

# After this many quotes for one sale the register gives up (a feed that keeps expiring).
MAX_QUOTES = 5


class Register(StaffSteps, SaleSteps, RefundSteps, PrintingSteps, Doctor, ReaderSteps):
    """One terminal's till: the current sale, the readers, the backend link, the journal, and
    who is signed in. Settings a manager changed on the till (kept in the journal) are laid over
    ``loaded`` here."""

    def __init__(
        self,
        *,
        loaded: LoadedSettings,
        client: BackendClient | Callable[[], BackendClient],
        journal: Journal,
        clock: Callable[[], float] = time.time,
        reader_factory: Callable[..., Reader] = open_reader,
        invoices: InvoiceDesk | None = None,
        inquiry_attempts: int = 5,
        inquiry_delay_s: float = 0.2,
        demo: bool = False,
        reference_factory: Callable[[str], str] = new_reference,
        demo_card: Callable[[], str] | None = None,
        setup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        loaded, self.settings_notes = tillsettings.with_till_settings(
            loaded, [(t.key, t.value, t.approved_by, t.at) for t in journal.till_settings()]
        )
        self.loaded = loaded
        self.demo_card = demo_card
        self.setup = setup  # the demo issues its card here
        self.settings = loaded.settings
        # a factory defers building the client (and importing an embedded backend) past first paint
        self._client = None if callable(client) else client
        self._client_factory = client if callable(client) else None
        self.journal = journal
        self.clock = clock
        self.reader_factory = reader_factory
        self.invoices = invoices
        self.demo = demo
        self.core = TillSale(
            self,
            client=lambda: self.client,
            journal=journal,
            terminal_id=self.settings.terminal.id,
            offline=offline_policy(self.settings),
            clock=clock,
            inquiry_attempts=inquiry_attempts,
            inquiry_delay_s=inquiry_delay_s,
            max_quotes=MAX_QUOTES,
            reference_factory=reference_factory,
        )
        self.staff = StaffDesk(journal, client=self.ensure_client, clock=clock)
        self.idle = IdleTimer(self.settings.staff.idle_lock_s, clock)
        self.view = SaleView()
        self.backend = BackendStatus(url=self.settings.backend.url, queued=self._queued())
        self.readers = {}
        self.link_came_back = False
        self.last_reconcile_at = None
        self.sale_readers = self.settings.terminal.readers
        self.lost = {}
        self._emit: Callable[[Update], None] = lambda _u: None
        self._generation = 0
        self._deadline = None
        self._lock = asyncio.Lock()
        self._printing = None
        self._followers = set()


__all__ = ["Register"]

"""The conductor of one sale: :class:`SaleCore` takes the face's calls, keeps the sale's
state and hands each of the session's commands to the module that owns that step.

Order of writes: the sale (reference, amount, asset, idempotency key) is journaled before
any network call; the quote before readers start; ``submitting`` with the payload's hash
before the payment is sent; the result after. A crash anywhere leaves a row that
:func:`terminal.settlement.reconcile` can settle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from terminal.client import BackendUnavailableError
from terminal.domain import session as s
from terminal.domain.money import Asset, Money
from terminal.journal import Journal, SaleFinalError
from terminal.sale import quoting, settling, submission
from terminal.sale.hooks import SaleHooks
from terminal.sale.offline import OfflinePolicy
from terminal.sale.report import SaleReport, idempotency_key_for, new_reference

if TYPE_CHECKING:
    from terminal.client import BackendClient

# How often an unknown outcome is asked about before the sale is left to `reconcile`.
INQUIRY_ATTEMPTS = 5
INQUIRY_DELAY_S = 0.2
MAX_QUOTES = 3

_STATUS = {
    s.State.APPROVED: "approved",
    s.State.DECLINED: "declined",
    s.State.EXPIRED: "expired",
    s.State.UNKNOWN_OUTCOME: "unknown",
    s.State.CANCELLED: "cancelled",
}


class SaleCore(SaleHooks):
    """The steps of one sale, shared by every face. One instance serves sale after sale.

    A face calls :meth:`enter`, :meth:`open`, :meth:`drive`, :meth:`present`,
    :meth:`expire_quote`, :meth:`close_window` and :meth:`cancel`, and overrides the hooks
    (:class:`~terminal.sale.hooks.SaleHooks`) to show or wait; every journal write and backend
    call happens in the step modules, in the order the module docstring gives."""

    cancel_on_refused_quote = True  # the headless sale ends; the TUI goes back to the asset choice

    def __init__(
        self,
        *,
        client: BackendClient | Callable[[], BackendClient],
        journal: Journal,
        terminal_id: str,
        offline: OfflinePolicy | None = None,
        clock: Callable[[], float] = time.time,
        inquiry_attempts: int = INQUIRY_ATTEMPTS,
        inquiry_delay_s: float = INQUIRY_DELAY_S,
        max_quotes: int = MAX_QUOTES,
        reference_factory: Callable[[str], str] | None = None,
    ) -> None:
        """``client``: the client, or how to get it when needed (a face that builds it late)."""
        self._client = client
        self.journal = journal
        self.terminal_id = terminal_id
        self.offline = offline or OfflinePolicy()
        self.clock = clock
        self.inquiry_attempts = inquiry_attempts
        self.inquiry_delay_s = inquiry_delay_s
        self.max_quotes = max_quotes
        self.reference_factory = reference_factory or new_reference
        self.session = s.PaymentSession()
        self.report: SaleReport | None = None
        self.outcome: str | None = None  # the status, when the sale ended outside the session's table
        self.settled_elsewhere: str | None = None  # its journal state, when reconcile closed it first
        self.inquired = False  # the outcome became unknown and was asked about
        self.tip: Money | None = None  # inside the entered amount; journaled with the sale

    # -- what a face calls ---------------------------------------------------------------

    @property
    def client(self) -> BackendClient:
        # a factory is callable, a client is not (and the client's class, httpx, loads only with it)
        return self._client() if callable(self._client) else self._client

    @property
    def reference(self) -> str | None:
        return None if self.report is None else self.report.reference

    @property
    def opened(self) -> SaleReport:
        """The open sale's report (reference, key, amounts): there is one after :meth:`open`."""
        assert self.report is not None, "no sale is open"
        return self.report

    @property
    def status(self) -> str:
        """approved | declined | expired | unknown | cancelled | failed | queued"""
        return self.outcome or _STATUS.get(self.session.state, "unknown")

    def enter(self, amount: Money, *, tip: Money | None = None) -> None:
        """The cashier entered an amount, ``tip`` included when there is one (raises
        :class:`~terminal.domain.session.SessionError`)."""
        if tip is not None and (tip.asset != amount.asset or tip.minor < 0 or amount < tip):
            raise s.SessionError(f"a tip of {tip} does not fit in a total of {amount}")
        if self.session.state in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME):
            self.reset()
        self.session.handle(s.AmountEntered(amount))
        self.tip = tip

    def reset(self) -> None:
        if self.session.state in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME):
            self.session.handle(s.SaleReset())
        self.report, self.outcome, self.inquired = None, None, False
        self.settled_elsewhere = None
        self.tip = None

    def open(self, crypto: Asset) -> list[s.Command]:
        """Journal the sale (before any network call) and ask for its first quote."""
        amount = self.session.amount
        assert amount is not None, "enter an amount first"
        reference = self.reference_factory(self.terminal_id)
        key = idempotency_key_for(reference)
        self.report = SaleReport(
            status="unknown", reference=reference, idempotency_key=key, fiat=amount, tip=self.tip
        )
        self.outcome, self.inquired = None, False
        self.journal.open_sale(
            reference=reference,
            idempotency_key=key,
            fiat_minor=amount.minor,
            fiat_currency=amount.asset.code,
            asset=crypto.code,
            # a known zero when there is none; NULL is left to sales journaled before tips were
            tip_minor=self.tip.minor if self.tip is not None else 0,
        )
        return self.session.handle(s.QuoteRequested(crypto))

    async def drive(self, commands: list[s.Command]) -> None:
        """Carry out the session's commands, and those they lead to, until none is left."""
        pending = list(commands)
        while pending:
            pending += await self.execute(pending.pop(0))

    async def present(self, payload: str, source: str, at: float) -> None:
        """A reader (or a paid invoice) presented a payment at ``at``."""
        await self.drive(self.session.handle(s.PaymentPresented(payload, source, at)))

    async def expire_quote(self, now: float) -> None:
        await self.drive(self.session.handle(s.QuoteExpired(now)))

    async def close_window(self) -> None:
        """Nobody paid within the payment window."""
        try:
            self.journal.update(self.opened.reference, "expired")
        except SaleFinalError:
            await settling.settled_elsewhere(self, s.PaymentWindowClosed())
            return
        await self.drive(self.session.handle(s.PaymentWindowClosed()))

    async def cancel(self, detail: str) -> None:
        if self.session.state not in (s.State.AMOUNT_ENTERED, s.State.QUOTING, s.State.AWAITING_PAYMENT):
            return
        if self.report is not None and self.journal.get(self.report.reference) is not None:
            try:
                self.journal.update(self.report.reference, "cancelled", detail=detail)
            except SaleFinalError:
                await settling.settled_elsewhere(self, s.SaleCancelled())
                return
        await self.drive(self.session.handle(s.SaleCancelled()))

    # -- hooks with a default that does something ------------------------------------------

    def notice(self, message: str) -> None:
        self.opened.notices.append(message)

    async def quote_unreachable(self, exc: BackendUnavailableError) -> list[s.Command]:
        """No quote because the backend cannot be reached; by default a refused quote."""
        return quoting.refuse(self, exc)

    # -- the steps -------------------------------------------------------------------------

    async def execute(self, cmd: s.Command) -> list[s.Command]:
        match cmd:
            case s.RequestQuote(amount, asset):
                return await quoting.request(self, amount, asset)
            case s.StartReaders():
                await self.start_readers()
                return []
            case s.StopReaders():
                self.stop_readers()
                return []
            case s.StartQuoteTimer(expires_at):
                return await self.await_payment(expires_at)
            case s.SubmitPayment(quote, payload, source):
                return await submission.submit(self, quote, payload, source)
            case s.InquireStatus():
                return await submission.inquire(self)
            case s.ShowNotice(message):
                self.notice(message)
                return []
            case s.ShowResult():
                self.finished()
                return []
        raise AssertionError(f"unhandled command {cmd!r}")  # pragma: no cover

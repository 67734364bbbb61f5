"""The sale at the till: the cashier's and the readers' intents, the ticks that run the quote
countdown and the payment window, the background reconcile; and
:class:`TillSale`, the sale core (:mod:`terminal.sale`) with the register as its face."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from terminal.client import BackendError, BackendUnavailableError, PaymentResult
from terminal.domain import session as s
from terminal.domain.money import Money, asset
from terminal.domain.quote import Quote
from terminal.sale import SaleCore, offline, quoting
from terminal.tui.till.invoices import INVOICE_SOURCE, InvoiceSteps
from terminal.tui.updates import (
    ReadersReleased,
    ReadersRequested,
    RegisterError,
    SaleUpdated,
    SaleView,
)

log = logging.getLogger("cryptopos.tui")

if TYPE_CHECKING:
    from terminal.tui.controller import Register


class SaleSteps(InvoiceSteps):
    def start_sale(self, base: Money, tip: Money | None = None) -> SaleView:
        """The cashier entered an amount (and maybe a tip)."""
        if self.core.shown_state() in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME):
            self.reset()
        total = base + tip if tip is not None else base
        try:
            self.core.enter(total, tip=tip)
        except s.SessionError as exc:
            raise RegisterError("Amount not taken", str(exc), "enter a positive amount") from None
        self._publish(base=base, tip=tip, total=total)
        return self.view

    async def choose_asset(self, code: str) -> None:
        """The customer picked what to pay with: the core journals the sale, then asks for a quote."""
        async with self._lock:
            crypto = asset(code)
            if crypto.code not in self.settings.terminal.accepted_assets:
                raise RegisterError(
                    "Asset not accepted",
                    f"{crypto.code} is not accepted here",
                    f"accepted: {', '.join(self.settings.terminal.accepted_assets)}",
                )
            total = self.view.total
            if total is None or self.session.state is not s.State.AMOUNT_ENTERED:
                raise RegisterError("No amount", "enter an amount first")
            await self.ensure_client()
            commands = self.core.open(crypto)  # journaled before the first network call
            self._publish(reference=self.core.reference, asset=crypto, reason=None)
            await self._run(self.core.drive(commands))

    async def present(self, payload: str, source: str) -> None:
        """A reader (or a paid invoice) presented a payment."""
        async with self._lock:
            waiting_offline = self.core.offline_waiting
            if self.session.state is not s.State.AWAITING_PAYMENT and not waiting_offline:
                return  # a late tap after cancel or result: nothing to pay
            if source != INVOICE_SOURCE:
                from terminal.presentation import customer_refusal  # ~40 ms of parsers: not at startup

                refusal = customer_refusal(payload, now=self.clock(), crypto=self.session.asset)
                if refusal is not None:
                    # bad input loses nothing: the sale keeps waiting for a real payment
                    hint = "ask the customer to tap their card or show their wallet's payment QR"
                    title = "Not a payment code"
                    if "asks to receive" in refusal:
                        hint += ", or scan the invoice QR on this screen"
                    elif "this sale is in" in refusal:
                        title = "Not for this sale"
                        hint = "ask for a payment in the sale's asset, or cancel (Esc) and pick that asset"
                    self._notice(title, refusal, hint, "error")
                    return
            if waiting_offline:
                offline.accept(self.core, payload, source)
                self.core.offline_ended()
                return
            await self._run(self.core.present(payload, source, self.clock()))

    async def cancel(self) -> None:
        async with self._lock:
            if self.core.offline_waiting:
                self.core.offline_waiting = False
                self.core.stop_readers()  # the session never started them: it has no offline state
            await self._run(self.core.cancel("cancelled by the cashier"))

    def reset(self) -> None:
        """Back to a fresh sale after a result."""
        if self.core.shown_state() not in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME, s.State.IDLE):
            return
        self.core.reset()
        self._deadline = None
        self.sale_readers, self.lost = self.settings.terminal.readers, {}  # a new sale tries them all again
        self.view = SaleView()
        self._emit(SaleUpdated(self.view))

    async def tick(self) -> None:
        """Called about every second by the host: the quote countdown and the payment window.
        The invoice is followed by a task of its own (``invoices.py``): a tick makes no request,
        and takes the lock only when the quote or the window has run out."""
        if self._timed_out() is None:
            return
        async with self._lock:
            step = self._timed_out()  # again: a step may have moved the sale on meanwhile
            if step is not None:
                await self._run(step())

    def _timed_out(self) -> Callable[[], Awaitable[None]] | None:
        """The sale's step when its payment window or its quote has run out, else None."""
        if self.core.offline_waiting:
            if self._deadline is not None and self.clock() >= self._deadline:
                return self._offline_window_closed
            return None
        if self.session.state is not s.State.AWAITING_PAYMENT:
            return None
        now = self.clock()
        quote = self.session.quote
        assert quote is not None
        if self._deadline is not None and now >= self._deadline:
            return self.core.close_window
        if quote.expired(now):
            return partial(self.core.expire_quote, now)
        return None

    async def _offline_window_closed(self) -> None:
        offline.expire(self.core)
        self.core.offline_ended()

    def seconds_left(self) -> float | None:
        q = self.view.quote
        return None if q is None else q.seconds_left(self.clock())

    async def reconcile(self) -> int:
        """Settle what the till owes the backend an answer for (unknown outcomes) and forward the
        offline queue, each exactly once (:func:`terminal.settlement.reconcile`). A sale still
        waiting for a tap is left alone. Returns how many settled or were forwarded."""
        from terminal.settlement import reconcile

        async with self._lock:
            try:
                await self.ensure_client()
                report = await reconcile(
                    client=self.client, journal=self.journal, clock=self.clock, idle_s=float("inf")
                )
            except BackendError as exc:
                self._mark_offline(exc.message)
                return 0
            self.last_reconcile_at = self.clock()
            stuck = [why for why in report.left.values() if "backend" in why]
            if stuck and not (report.settled or report.forwarded):
                self._mark_offline(stuck[0])
            elif report.settled or report.forwarded:
                self._mark_online()
            current = self.core.reference
            if current is not None and self.session.state is s.State.UNKNOWN_OUTCOME:
                record = self.journal.get(current)
                if record is not None and record.state in ("approved", "declined", "failed"):
                    if record.state == "approved":
                        event: s.Event = s.PaymentApproved(record.payment_id or "")
                    else:  # declined, or never arrived (failed: not charged)
                        event = s.PaymentDeclined(record.reason or record.state, record.payment_id)
                    self.session.handle(event)
                    self._publish(payment_id=record.payment_id, inquiry=None, finished_at=self.clock())
            self._set_backend(queued=self._queued())
            return len(set(report.settled) | set(report.forwarded))

    async def heartbeat(self) -> bool:
        """Tell the backend how this till is (:mod:`terminal.health`); silent when it cannot."""
        from terminal.health import heartbeat_body, send_heartbeat

        readers = {d: st.state for d, st in self.readers.items()}
        for device in self.settings.terminal.readers:
            readers.setdefault(device, "idle")  # configured, not running between sales
        body = heartbeat_body(self.journal, readers=readers, last_reconcile_at=self.last_reconcile_at)
        try:
            client = await self.ensure_client()
        except Exception as exc:  # an embedded backend that cannot start: the link says so, not this
            log.debug("heartbeat not sent: %s", exc)
            return False
        return await send_heartbeat(client, body)


# an offline sale's outcome as the register shows it (a queued one reads "STORED OFFLINE")
_OFFLINE_SHOWN = {"queued": s.State.DECLINED, "declined": s.State.DECLINED, "expired": s.State.EXPIRED}


class TillSale(SaleCore):
    """The sale core with the register as its face: every hook becomes a view or status update."""

    cancel_on_refused_quote = False  # back to the asset choice; the next choice opens a new sale

    def __init__(self, register: Register, **options: Any) -> None:
        super().__init__(**options)
        self.register = register
        # admitted offline at quote time (the backend unreachable): waiting for a tap with no
        # quote. The session has no offline states, so the register routes these steps itself.
        self.offline_waiting = False
        self.offline_refusal = ""  # why the last unreachable quote was not taken offline

    def reset(self) -> None:
        if self.outcome is not None and self.session.state is s.State.AMOUNT_ENTERED:
            self.session = s.PaymentSession()  # an offline sale ended outside the session's table
        super().reset()
        self.offline_waiting = False

    async def quote_unreachable(self, exc: BackendUnavailableError) -> list[s.Command]:
        """The same policy as the headless ``pay`` (:func:`terminal.sale.offline.take`), in its
        steps: admitted, the sale waits for a tap, which the register's ``present`` queues."""
        amount = self.opened.fiat
        refusal = self.offline.refusal(amount, self.journal.offline_total(amount.asset.code))
        if refusal is not None:
            self.offline_refusal = refusal  # said with the unreachable backend's notice
            return quoting.refuse(self, exc)  # back to the asset choice
        self.session.handle(s.QuoteRefused(exc.message))
        offline.admit(self, exc)
        self.offline_waiting = True
        r = self.register
        if r._deadline is None:  # the payment window spans re-quotes
            r._deadline = r.clock() + r.settings.timeouts.payment_wait_s
        kinds = ", ".join(k.replace("_", " ") for k in self.offline.allowed_kinds)
        r._notice(
            "Sale", f"Backend unreachable: taking this payment offline ({kinds})", severity="information"
        )
        r._publish(quote=None, invoice=None, reason=None)
        await self.start_readers()
        return []

    def offline_ended(self) -> None:
        """An admitted offline sale ended (queued, declined or expired): readers off, result shown."""
        self.offline_waiting = False
        self.stop_readers()
        report = self.opened
        reason = "offline_queued" if self.outcome == "queued" else report.reason
        self.register._publish(reason=reason, source=report.source)
        self.finished()

    def shown_state(self) -> s.State:
        """The state the register shows: the session's, or an offline sale's (outside its table)."""
        state = self.session.state
        if state is not s.State.AMOUNT_ENTERED or self.report is None:
            return state
        if self.offline_waiting:
            return s.State.AWAITING_PAYMENT
        return _OFFLINE_SHOWN.get(self.outcome or "", state)

    async def start_readers(self) -> None:
        r = self.register
        r._generation += 1
        r._emit(ReadersRequested(tuple(r.sale_readers), r._generation))
        await r._issue_invoice()

    def stop_readers(self) -> None:
        self.register._stop_following()  # the invoice too: the sale no longer waits for it
        self.register._emit(ReadersReleased(self.register._generation))

    def was_settled_elsewhere(self, state: str) -> None:
        # said before the session moves on: a calm notice with the sale's state, not an error
        self.register._notice(
            "Sale already settled",
            f"it was settled elsewhere (reconcile) first: it is {state}",
            "nothing more to do here; see History",
            "information",
        )

    async def await_payment(self, expires_at: float) -> list[s.Command]:
        r = self.register
        if r._deadline is None:  # the payment window spans re-quotes
            r._deadline = r.clock() + r.settings.timeouts.payment_wait_s
        return []  # ticks and reader workers call present / expire_quote / close_window

    def notice(self, message: str) -> None:
        super().notice(message)
        self.register._notice("Sale", message, severity="information")

    def finished(self) -> None:
        r = self.register
        r._publish(finished_at=r.clock())
        r._set_backend(queued=r._queued())  # a sale stored offline joins the queue

    def quoting(self) -> None:
        self.register._publish(quote=None, invoice=None)

    def quote_received(self, quote: Quote) -> None:
        self.register._publish(quote=quote)

    def submitting(self, source: str) -> None:
        self.register._publish(source=source)

    def quote_failed(self, exc: BackendError) -> None:
        unreachable = isinstance(exc, BackendUnavailableError)
        hint = "check the backend (status bar) and try again"
        message = exc.message
        if unreachable:
            message += f"; not taken offline: {self.offline_refusal}"
        else:
            hint = "pick another asset or amount"
        self.register._notice(exc.title, message, hint, "error")
        # back to asset choice: the journaled sale is closed, the next choice opens another
        self.register._publish(reference=None, reason=exc.message)

    def link(self, *, up: bool, detail: str = "") -> None:
        if up:
            self.register._mark_online()
        else:
            self.register._mark_offline(detail)

    def unknown(self, why: str) -> None:
        self.register._publish(inquiry="No answer: asking the backend what happened")

    def inquiring(self, attempt: int, attempts: int) -> None:
        r = self.register
        r._set_backend(queued=r._queued())
        r._publish(inquiry=f"Asking the backend what happened ({attempt}/{attempts})")

    def left_unknown(self) -> None:
        self.register._publish(
            inquiry="Queued: the terminal keeps asking in the background and settles it when the "
            "backend answers. Do not take this payment again."
        )

    def settled(self, result: PaymentResult) -> None:
        r = self.register
        r._publish(payment_id=result.payment_id, inquiry=None)
        r._set_backend(queued=r._queued())

    async def paid_elsewhere(self, payload: str, source: str) -> PaymentResult | None:
        return self.register._paid_invoice(source)

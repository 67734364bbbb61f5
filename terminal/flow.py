"""Runs one sale: drives the pure session with a backend client, a journal and readers.

The only place where the session's commands become I/O. :class:`SaleCore` holds the steps
every face shares (journal before network, quote and re-quote, presentation checks and replay
guards, the offline policy, submit, inquiry, settling); a face subclasses it and fills in its
hooks: :class:`SaleRunner` (the headless CLI) waits for readers itself, the TUI's till
(``terminal.tui.controller``) drives the same core step by step from keys, ticks and reader
workers. Neither talks to httpx or a driver directly.

Order of writes: the sale (reference, amount, asset, idempotency key) is journaled before
any network call; the quote before readers start; ``submitting`` with the payload's hash
before the payment is sent; the result after. A crash anywhere leaves a row that
:func:`terminal.settlement.reconcile` can settle.

Offline (opt-in, ``[offline]``): when the backend cannot be reached for a quote, a sale
within the caps is taken without one and queued with its payload; the session's table
has no offline states, so this path is run here directly (``_take_offline``).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from drivers import CodeScanned, ReaderError, ReaderEvent, TagRead, open_reader
from drivers.registry import Reader
from terminal.client import (
    BackendClient,
    BackendError,
    BackendUnavailableError,
    BadAnswerError,
    OutcomeUnknownError,
    PaymentResult,
    ProblemError,
    QuoteExpiredError,
)
from terminal.config import Settings
from terminal.domain import session as s
from terminal.domain.money import Asset, Money
from terminal.domain.quote import Quote
from terminal.journal import Journal, ReplayError, SaleFinalError, payload_hash
from terminal.presentation import customer_payment_filter, identify

# How often an unknown outcome is asked about before the sale is left to `reconcile`.
INQUIRY_ATTEMPTS = 5
INQUIRY_DELAY_S = 0.2
MAX_QUOTES = 3
# A tap this close to the quote's expiry re-quotes: the payment would arrive on an expired rate.
QUOTE_MARGIN_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflinePolicy:
    """What may be taken while the backend is unreachable (``[offline]`` in the config)."""

    enabled: bool = False
    max_payment: Money | None = None
    max_total: Money | None = None
    allowed_kinds: tuple[str, ...] = ()

    def refusal(self, amount: Money, queued_minor: int) -> str | None:
        """Why ``amount`` cannot be taken offline now, or None when it can."""
        if not self.enabled:
            return "offline payments are off"
        if (
            self.max_payment is not None
            and self.max_payment.asset == amount.asset
            and self.max_payment < amount
        ):
            return (
                f"offline payments are limited to {self.max_payment} each while the backend is "
                f"unreachable; this sale is {amount}"
            )
        if self.max_total is not None and self.max_total.asset == amount.asset:
            queued = Money(queued_minor, amount.asset)
            if self.max_total < queued + amount:
                return (
                    f"the offline queue is full: {queued} of {self.max_total} already stored; "
                    f"this sale of {amount} would exceed it"
                )
        return None


def offline_policy(settings: Settings) -> OfflinePolicy:
    """The ``[offline]`` section as a policy, amounts in the terminal's currency."""
    o, fiat = settings.offline, settings.terminal.fiat_currency
    return OfflinePolicy(
        enabled=o.enabled,
        max_payment=Money.parse(o.max_payment, fiat),
        max_total=Money.parse(o.max_total, fiat),
        allowed_kinds=o.allowed_kinds,
    )


@dataclass
class SaleReport:
    """Everything a receipt or the CLI's JSON needs about one finished sale."""

    status: str  # approved | declined | expired | unknown | cancelled | failed | queued
    reference: str
    idempotency_key: str
    fiat: Money
    crypto: Money | None = None
    rate: str | None = None
    quote_id: str | None = None
    quote_expires_at: float | None = None
    payment_id: str | None = None
    reason: str | None = None
    source: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from datetime import UTC, datetime

        return {
            "status": self.status,
            "payment_id": self.payment_id,
            "reference": self.reference,
            "idempotency_key": self.idempotency_key,
            "reason": self.reason,
            "fiat": {
                "amount": self.fiat.amount_str(),
                "minor": self.fiat.minor,
                "currency": self.fiat.asset.code,
            },
            "crypto": None
            if self.crypto is None
            else {
                "amount": self.crypto.amount_str(),
                "minor": str(self.crypto.minor),
                "asset": self.crypto.asset.code,
            },
            "rate": self.rate,
            "quote_id": self.quote_id,
            "quote_expires_at": None
            if self.quote_expires_at is None
            else datetime.fromtimestamp(self.quote_expires_at, UTC).isoformat(timespec="milliseconds"),
            "source": self.source,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


def reader_for(device: str, factory: Callable[..., Reader], *, clock: Callable[[], float]) -> Reader:
    """Open ``device``; a camera gets the customer-payment filter, so a QR that is not a payment
    (a loyalty card in view) is rejected by the reader and never reaches the backend."""
    if device.startswith("camera:"):
        return factory(device, accept=customer_payment_filter(clock))
    return factory(device)


def new_reference(terminal_id: str) -> str:
    return f"{terminal_id}-{int(time.time() * 1000):x}-{secrets.token_hex(4)}"


def idempotency_key_for(reference: str) -> str:
    """Derived from the journaled sale alone: the same on every retry, after a re-quote, after a
    restart, and when an offline sale is forwarded."""
    return hashlib.sha256(f"cryptopos-sale|{reference}".encode()).hexdigest()[:32]


_STATUS = {
    s.State.APPROVED: "approved",
    s.State.DECLINED: "declined",
    s.State.EXPIRED: "expired",
    s.State.UNKNOWN_OUTCOME: "unknown",
    s.State.CANCELLED: "cancelled",
}


class SaleCore:
    """The steps of one sale, shared by every face. One instance serves sale after sale.

    A face calls :meth:`enter`, :meth:`open`, :meth:`drive`, :meth:`present`,
    :meth:`expire_quote`, :meth:`close_window` and :meth:`cancel`, and overrides the hooks
    (``start_readers`` ... ``settled``) to show or wait; every journal write and backend call
    happens here, in the order the module docstring gives."""

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
        self._status: str | None = None  # set when the sale ended outside the session's table
        self.settled_elsewhere: str | None = None  # its journal state, when reconcile closed it first
        self._inquired = False  # the outcome became unknown and was asked about

    # -- what a face calls ---------------------------------------------------------------

    @property
    def client(self) -> BackendClient:
        return self._client if isinstance(self._client, BackendClient) else self._client()

    @property
    def reference(self) -> str | None:
        return None if self.report is None else self.report.reference

    @property
    def status(self) -> str:
        """approved | declined | expired | unknown | cancelled | failed | queued"""
        return self._status or _STATUS.get(self.session.state, "unknown")

    def enter(self, amount: Money) -> None:
        """The cashier entered an amount (raises :class:`~terminal.domain.session.SessionError`)."""
        if self.session.state in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME):
            self.reset()
        self.session.handle(s.AmountEntered(amount))

    def reset(self) -> None:
        if self.session.state in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME):
            self.session.handle(s.SaleReset())
        self.report, self._status, self._inquired = None, None, False
        self.settled_elsewhere = None

    def open(self, crypto: Asset) -> list[s.Command]:
        """Journal the sale (before any network call) and ask for its first quote."""
        amount = self.session.amount
        assert amount is not None, "enter an amount first"
        reference = self.reference_factory(self.terminal_id)
        key = idempotency_key_for(reference)
        self.report = SaleReport(status="unknown", reference=reference, idempotency_key=key, fiat=amount)
        self._status, self._inquired = None, False
        self.journal.open_sale(
            reference=reference,
            idempotency_key=key,
            fiat_minor=amount.minor,
            fiat_currency=amount.asset.code,
            asset=crypto.code,
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
            self.journal.update(self._ref(), "expired")
        except SaleFinalError:
            await self._settled_elsewhere(s.PaymentWindowClosed())
            return
        await self.drive(self.session.handle(s.PaymentWindowClosed()))

    async def cancel(self, detail: str) -> None:
        if self.session.state not in (s.State.AMOUNT_ENTERED, s.State.QUOTING, s.State.AWAITING_PAYMENT):
            return
        if self.report is not None and self.journal.get(self.report.reference) is not None:
            try:
                self.journal.update(self.report.reference, "cancelled", detail=detail)
            except SaleFinalError:
                await self._settled_elsewhere(s.SaleCancelled())
                return
        await self.drive(self.session.handle(s.SaleCancelled()))

    async def _settled_elsewhere(self, event: s.Event) -> None:
        """`reconcile` in another process settled the sale first: the journal's state is its
        outcome, shown as such (the session still ends, so nothing waits for a tap)."""
        rec = self.journal.get(self._ref())
        state = rec.state if rec is not None else "cancelled"
        self._status = state
        self.settled_elsewhere = state
        if self.report is not None:
            self.report.reason = f"the sale was already settled elsewhere (reconcile): it is {state}"
        self.was_settled_elsewhere(state)
        await self.drive(self.session.handle(event))

    # -- hooks a face overrides ----------------------------------------------------------

    async def start_readers(self) -> None:
        """The quote is on screen: the customer may pay now."""

    def stop_readers(self) -> None:
        """Nothing is awaited any more."""

    async def await_payment(self, expires_at: float) -> list[s.Command]:
        """Wait for a presentation, an expiry or the window's end (headless); an interactive
        face returns at once and calls :meth:`present` / :meth:`expire_quote` later."""
        return []

    def was_settled_elsewhere(self, state: str) -> None:
        """A cancel or the window's end found the sale already settled (``state``) elsewhere."""

    def notice(self, message: str) -> None:
        assert self.report is not None
        self.report.notices.append(message)

    def finished(self) -> None:
        """The sale reached a result the session shows."""

    def quoting(self) -> None:
        """A quote is being asked for (the previous one, if any, is gone)."""

    def submitting(self, source: str) -> None:
        """The payment ``source`` presented is being checked and sent."""

    def quote_received(self, quote: Quote) -> None:
        """A quote arrived and is journaled."""

    def quote_failed(self, exc: BackendError) -> None:
        """The backend refused (or could not give) a quote; the journaled sale is closed."""

    def link(self, *, up: bool, detail: str = "") -> None:
        """The backend answered (``up``) or could not be reached."""

    def unknown(self, why: str) -> None:
        """A payment's answer was lost; the backend is being asked about it."""

    def inquiring(self, attempt: int, attempts: int) -> None:
        """Status inquiry ``attempt`` of ``attempts`` for an unknown outcome."""

    def left_unknown(self) -> None:
        """Still unknown after asking: `reconcile` settles it later."""

    def settled(self, result: PaymentResult) -> None:
        """The backend's answer for this sale is journaled."""

    async def paid_elsewhere(self, payload: str, source: str) -> PaymentResult | None:
        """A payment the backend already has (a paid invoice), or None to submit ``payload``."""
        return None

    async def quote_unreachable(self, exc: BackendUnavailableError) -> list[s.Command]:
        """No quote because the backend cannot be reached; by default a refused quote."""
        return self._quote_refused(exc)

    # -- the steps -------------------------------------------------------------------------

    def _ref(self) -> str:
        assert self.report is not None, "no sale is open"
        return self.report.reference

    async def execute(self, cmd: s.Command) -> list[s.Command]:
        match cmd:
            case s.RequestQuote(amount, asset):
                return await self._quote(amount, asset)
            case s.StartReaders():
                await self.start_readers()
                return []
            case s.StopReaders():
                self.stop_readers()
                return []
            case s.StartQuoteTimer(expires_at):
                return await self.await_payment(expires_at)
            case s.SubmitPayment(quote, payload, source):
                return await self._submit(quote, payload, source)
            case s.InquireStatus():
                return await self._inquire()
            case s.ShowNotice(message):
                self.notice(message)
                return []
            case s.ShowResult():
                self.finished()
                return []
        raise AssertionError(f"unhandled command {cmd!r}")  # pragma: no cover

    async def _quote(self, amount: Money, crypto: Asset) -> list[s.Command]:
        sess, report, reference = self.session, self.report, self._ref()
        assert report is not None
        self.quoting()
        if sess.quotes_requested > self.max_quotes:
            report.reason = f"{self.max_quotes} quotes expired; start the sale again"
            self.journal.update(reference, "cancelled", detail="too many quotes")
            self.notice(f"Quotes keep expiring: {report.reason}")
            return sess.handle(s.SaleCancelled())
        t0 = time.perf_counter()
        try:
            quote = await self.client.quote(amount, crypto)
        except BackendUnavailableError as exc:
            self.link(up=False, detail=exc.message)
            return await self.quote_unreachable(exc)
        except BackendError as exc:
            return self._quote_refused(exc)
        self.link(up=True)
        report.timings_ms["quote"] = (time.perf_counter() - t0) * 1000
        report.crypto, report.rate = quote.crypto, str(quote.rate)
        report.quote_id, report.quote_expires_at = quote.quote_id, quote.expires_at
        self.journal.update(
            reference, "awaiting_payment", crypto_minor=quote.crypto.minor, quote_id=quote.quote_id
        )
        commands = sess.handle(s.QuoteReceived(quote))
        left = quote.seconds_left(self.clock())
        report.notices.append(f"Quote {quote.crypto.format(trim=True)} valid for {left:.0f} s")
        self.quote_received(quote)
        return commands

    def _quote_refused(self, exc: BackendError) -> list[s.Command]:
        # a refused quote is an error the cashier sees, never a tiny invoice
        assert self.report is not None
        self.report.reason = f"No quote: {exc.title}: {exc.message}"
        self.journal.update(self._ref(), "cancelled", detail=self.report.reason)
        self.session.handle(s.QuoteRefused(exc.message))
        self.quote_failed(exc)
        return self.session.handle(s.SaleCancelled()) if self.cancel_on_refused_quote else []

    def guard(self, payload: str, *, queued: bool = False) -> tuple[str, str | None]:
        """The presentation's kind and why the terminal refuses it (expired token, a replayed
        tap), remembering its one-time parts; the refusal is journaled as ``declined``."""
        reference = self._ref()
        seen = identify(payload, now=self.clock())
        if seen.refusal is not None:
            self.journal.update(
                reference, "declined", reason=seen.refusal, payload_hash=payload_hash(payload)
            )
            return seen.kind, seen.refusal
        if queued and seen.kind not in self.offline.allowed_kinds:
            allowed = ", ".join(self.offline.allowed_kinds) or "none"
            why = (
                f"Not taken: a {seen.kind.replace('_', ' ')} cannot be accepted offline "
                f"(allowed offline: {allowed})"
            )
            self.journal.update(reference, "declined", reason="offline_kind_refused", detail=why)
            return seen.kind, why
        try:
            if seen.replay_token is not None:
                self.journal.remember_token(seen.guard_kind or seen.kind, seen.replay_token, reference)
            if seen.card_uid is not None and seen.counter is not None:
                self.journal.advance_counter(seen.card_uid, seen.counter, reference)
        except ReplayError as exc:
            assert self.report is not None
            self.report.notices.append(f"Refused: {exc}")
            self.journal.update(
                reference,
                "declined",
                reason="replayed_tap",
                payload_hash=payload_hash(payload),
                detail=str(exc),
            )
            return seen.kind, "replayed_tap"
        return seen.kind, None

    async def _submit(self, quote: Quote, payload: str, source: str) -> list[s.Command]:
        sess, report, reference = self.session, self.report, self._ref()
        assert report is not None
        report.source = source
        self.submitting(source)
        seen = identify(payload, now=self.clock())
        if seen.refusal is not None:
            report.reason = seen.refusal
            self.journal.update(
                reference, "declined", reason=seen.refusal, payload_hash=payload_hash(payload)
            )
            return sess.handle(s.PaymentDeclined(seen.refusal))
        try:
            self.journal.update(
                reference,
                "submitting",
                payload_hash=payload_hash(payload),
                payload_kind=seen.kind,
                submitted_at=self.clock(),
            )
        except SaleFinalError:
            # closed by `reconcile` in another process while the customer tapped: never send it
            rec = self.journal.get(reference)
            self._status = rec.state if rec is not None else "cancelled"
            report.reason = "the sale was closed elsewhere before it was sent; not charged"
            return sess.handle(s.PaymentDeclined("closed_elsewhere"))
        _kind, refusal = self.guard(payload)
        if refusal is not None:
            report.reason = refusal
            return sess.handle(s.PaymentDeclined(refusal))
        elsewhere = await self.paid_elsewhere(payload, source)
        if elsewhere is not None:
            return self.settle(elsewhere)
        t0 = time.perf_counter()

        def unknown(why: str) -> None:
            # the client settles a lost answer itself; the journal still tells that it was lost
            self._inquired = True
            self.journal.update(reference, "unknown_outcome", detail=why)
            self.unknown(why)

        try:
            result = await self.client.create_payment(
                quote=quote,
                reference=reference,
                payload=payload,
                idempotency_key=report.idempotency_key,
                on_unknown=unknown,
            )
        except BackendUnavailableError as exc:
            # nothing reached the backend: not charged
            report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
            self.link(up=False, detail=exc.message)
            refusal = self.offline.refusal(quote.fiat, self.journal.offline_total(quote.fiat.asset.code))
            if refusal is None and seen.kind in self.offline.allowed_kinds:
                self.journal.queue_offline(reference, payload=payload, payload_kind=seen.kind)
                self._status = "queued"
                report.notices.append("Stored offline; it is charged when the backend is back")
                return sess.handle(s.PaymentDeclined("offline_queued"))
            self._status = "failed"
            report.reason = f"{exc.title}: {exc.message}; not charged"
            self.journal.update(reference, "failed", reason=report.reason)
            return sess.handle(s.PaymentDeclined(report.reason))
        except QuoteExpiredError as exc:
            report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
            self._status = "expired"
            report.reason = f"{exc.message}; not charged"
            self.journal.update(reference, "expired", reason=report.reason)
            return sess.handle(s.PaymentDeclined("quote_expired"))
        except (OutcomeUnknownError, BadAnswerError) as exc:
            report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
            self._inquired = True
            self.journal.update(reference, "unknown_outcome", reason=exc.message)
            return sess.handle(s.OutcomeUnknown(exc.message))
        except ProblemError as exc:
            report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
            reason = exc.type or exc.message
            self.journal.update(reference, "declined", reason=reason, detail=exc.message)
            return sess.handle(s.PaymentDeclined(reason))
        except BackendError as exc:
            report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
            self.journal.update(reference, "unknown_outcome", reason=exc.message)
            return sess.handle(s.OutcomeUnknown(exc.message))
        report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
        self.link(up=True)
        return self.settle(result)

    async def _inquire(self) -> list[s.Command]:
        """Ask the backend by reference before anything else; resend (same key, same body) only
        when it does not have the payment."""
        sess, report, reference = self.session, self.report, self._ref()
        assert report is not None
        for attempt in range(1, self.inquiry_attempts + 1):
            self.inquiring(attempt, self.inquiry_attempts)
            await asyncio.sleep(self.inquiry_delay_s)
            try:
                try:
                    found = await self.client.find_by_reference(reference)
                except ProblemError as exc:
                    # a refused question is no answer about the payment: it may be charged
                    self.link(up=False, detail=exc.message)
                    continue
                if found is None and sess.quote is not None and sess.payload is not None:
                    found = await self.client.create_payment(
                        quote=sess.quote,
                        reference=reference,
                        payload=sess.payload,
                        idempotency_key=report.idempotency_key,
                    )
            except QuoteExpiredError:
                # never sent on an expired quote; the backend had nothing: not charged
                self._status = "failed"
                report.reason = "no answer, and the quote expired before a resend; not charged"
                self.journal.update(reference, "failed", reason=report.reason)
                return sess.handle(s.PaymentDeclined(report.reason))
            except ProblemError as exc:
                self.journal.update(reference, "declined", reason=exc.type or exc.message)
                return sess.handle(s.PaymentDeclined(exc.type or exc.message))
            except BackendError as exc:
                self.link(up=False, detail=exc.message)
                continue
            self.link(up=True)
            if found is not None and found.status in ("approved", "declined"):
                return self.settle(found)
        self.left_unknown()
        return []  # left in unknown_outcome; `reconcile` settles it later

    def settle(self, result: PaymentResult) -> list[s.Command]:
        """Journal the backend's answer for this sale and move the session."""
        report, reference = self.report, self._ref()
        assert report is not None
        report.payment_id = result.payment_id
        how = "settled by a status inquiry" if self._inquired else None
        if self._inquired:
            report.notices.append("The answer was lost; the backend was asked and settled it")
        if result.status == "approved":
            self.journal.update(reference, "approved", payment_id=result.payment_id, detail=how)
            commands = self.session.handle(s.PaymentApproved(result.payment_id))
        elif result.status == "declined":
            reason = result.reason or "declined"
            self.journal.update(
                reference, "declined", payment_id=result.payment_id, reason=reason, detail=how
            )
            commands = self.session.handle(s.PaymentDeclined(reason, result.payment_id))
        else:
            self.journal.update(
                reference, "unknown_outcome", payment_id=result.payment_id, reason=result.status
            )
            if self.session.state is s.State.UNKNOWN_OUTCOME:
                commands = []  # still pending after asking: reconcile settles it
            else:
                commands = self.session.handle(s.OutcomeUnknown(f"payment is {result.status}"))
        self.settled(result)
        return commands


class SaleRunner(SaleCore):
    """The headless face: one sale from amount to result, waiting for readers itself."""

    def __init__(
        self,
        *,
        client: BackendClient,
        journal: Journal,
        terminal_id: str,
        readers: Sequence[str],
        payment_wait_s: float = 120.0,
        offline: OfflinePolicy | None = None,
        clock: Callable[[], float] = time.time,
        reader_factory: Callable[..., Reader] = open_reader,
        inquiry_attempts: int = INQUIRY_ATTEMPTS,
        inquiry_delay_s: float = INQUIRY_DELAY_S,
    ) -> None:
        super().__init__(
            client=client,
            journal=journal,
            terminal_id=terminal_id,
            offline=offline,
            clock=clock,
            inquiry_attempts=inquiry_attempts,
            inquiry_delay_s=inquiry_delay_s,
        )
        self.readers = list(readers)
        self.payment_wait_s = payment_wait_s
        self.reader_factory = reader_factory
        self._open: list[Reader] = []
        self._events: asyncio.Queue[ReaderEvent] = asyncio.Queue()
        self._deadline = 0.0
        self._started = 0.0

    async def run(self, amount: Money, crypto: Asset) -> SaleReport:
        self._started = time.perf_counter()
        self.enter(amount)
        pending = self.open(crypto)  # journaled before any network call
        report = self.report
        assert report is not None
        self._deadline = time.monotonic() + self.payment_wait_s
        try:
            await self.drive(pending)
        except SaleFinalError:
            # `reconcile` in another process closed this sale before anything was sent
            rec = self.journal.get(report.reference)
            self._status = rec.state if rec is not None else "cancelled"
            report.reason = "the sale was closed elsewhere before it was sent; not charged"
        finally:
            self.stop_readers()
        report.status = self.status
        if report.status != "queued":
            report.reason = report.reason or self.session.reason
        report.timings_ms["total"] = (time.perf_counter() - self._started) * 1000
        return report

    async def quote_unreachable(self, exc: BackendUnavailableError) -> list[s.Command]:
        self.session.handle(s.QuoteRefused(exc.message))
        await self._take_offline(exc)
        return []

    async def _take_offline(self, cause: BackendError) -> None:
        """The backend is unreachable: take the sale offline if the policy allows, else refuse it
        with a message that says which limit stopped it."""
        report, reference = self.report, self._ref()
        assert report is not None
        amount = report.fiat
        refusal = self.offline.refusal(amount, self.journal.offline_total(amount.asset.code))
        if refusal is not None:
            self._status = "cancelled"
            report.reason = f"{cause.title}: {cause.message}; not taken: {refusal}"
            self.journal.update(reference, "cancelled", detail=report.reason)
            return
        report.notices.append("Backend unreachable: taking this payment offline")
        await self.start_readers()
        try:
            payload: str | None = None
            while payload is None:
                timeout = self._deadline - time.monotonic()
                if timeout <= 0:
                    self._status = "expired"
                    self.journal.update(reference, "expired", detail="no tap while offline")
                    return
                try:
                    event = await asyncio.wait_for(self._events.get(), timeout)
                except TimeoutError:
                    continue
                if isinstance(event, TagRead | CodeScanned):
                    payload, report.source = event.payload, event.reader
        finally:
            self.stop_readers()
        kind, refusal = self.guard(payload, queued=True)
        if refusal is not None:
            self._status, report.reason = "declined", refusal
            return
        seq = self.journal.queue_offline(reference, payload=payload, payload_kind=kind)
        self._status = "queued"
        report.notices.append(f"Stored offline (#{seq}); it is charged when the backend is back")

    async def await_payment(self, expires_at: float) -> list[s.Command]:
        report = self.report
        assert report is not None
        while True:
            now_wall = self.clock()
            timeout = min(expires_at - QUOTE_MARGIN_S - now_wall, self._deadline - time.monotonic())
            if timeout <= 0:
                if time.monotonic() >= self._deadline:
                    self.journal.update(report.reference, "expired")
                    return self.session.handle(s.PaymentWindowClosed())
                return self.session.handle(s.QuoteExpired(now_wall))
            try:
                event = await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:
                continue
            if isinstance(event, TagRead | CodeScanned):
                report.timings_ms["to_payment"] = (time.perf_counter() - self._started) * 1000
                # the margin makes a tap just before expiry re-quote instead of racing the rate's end
                at = self.clock() + QUOTE_MARGIN_S
                return self.session.handle(s.PaymentPresented(event.payload, event.reader, at))
            if isinstance(event, ReaderError):
                report.notices.append(f"{event.title}: {event.message}")

    async def start_readers(self) -> None:
        loop = asyncio.get_running_loop()

        def sink(event: ReaderEvent) -> None:
            loop.call_soon_threadsafe(self._events.put_nowait, event)

        for device in self.readers:
            reader = reader_for(device, self.reader_factory, clock=self.clock)
            reader.start(sink)
            self._open.append(reader)

    def stop_readers(self) -> None:
        while self._open:
            self._open.pop().stop()
        self._events = asyncio.Queue()

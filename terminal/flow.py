"""Runs one sale: drives the pure session with a backend client, a journal and readers.

The only place where the session's commands become I/O. The TUI and the headless CLI
both use it; neither talks to httpx or a driver directly.
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
    OutcomeUnknownError,
    PaymentResult,
    QuoteRefusedError,
)
from terminal.domain import session as s
from terminal.domain.money import Asset, Money
from terminal.journal import Journal, payload_hash

# How often an unknown outcome is asked about before the sale is left to `reconcile`.
INQUIRY_ATTEMPTS = 5
INQUIRY_DELAY_S = 0.2
MAX_QUOTES = 3


@dataclass
class SaleReport:
    """Everything a receipt or the CLI's JSON needs about one finished sale."""

    status: str  # approved | declined | expired | unknown | cancelled
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


def new_reference(terminal_id: str) -> str:
    return f"{terminal_id}-{int(time.time() * 1000):x}-{secrets.token_hex(4)}"


def idempotency_key_for(reference: str, quote_id: str) -> str:
    """Derived from the journaled sale and the quote it pays: the same on every retry."""
    return hashlib.sha256(f"{reference}|{quote_id}".encode()).hexdigest()[:32]


_STATUS = {
    s.State.APPROVED: "approved",
    s.State.DECLINED: "declined",
    s.State.EXPIRED: "expired",
    s.State.UNKNOWN_OUTCOME: "unknown",
    s.State.CANCELLED: "cancelled",
}


class SaleRunner:
    """Interprets a :class:`PaymentSession`'s commands for one sale."""

    def __init__(
        self,
        *,
        client: BackendClient,
        journal: Journal,
        terminal_id: str,
        readers: Sequence[str],
        payment_wait_s: float = 120.0,
        clock: Callable[[], float] = time.time,
        reader_factory: Callable[[str], Reader] = open_reader,
    ) -> None:
        self.client = client
        self.journal = journal
        self.terminal_id = terminal_id
        self.readers = list(readers)
        self.payment_wait_s = payment_wait_s
        self.clock = clock
        self.reader_factory = reader_factory
        self.session = s.PaymentSession()
        self._open: list[Reader] = []
        self._events: asyncio.Queue[ReaderEvent] = asyncio.Queue()

    async def run(self, amount: Money, crypto: Asset) -> SaleReport:
        started = time.perf_counter()
        reference = new_reference(self.terminal_id)
        report = SaleReport(status="unknown", reference=reference, idempotency_key="", fiat=amount)
        self.journal.open_sale(
            reference=reference,
            idempotency_key=f"pending-{reference}",
            fiat_minor=amount.minor,
            fiat_currency=amount.asset.code,
            asset=crypto.code,
        )
        self.session.handle(s.AmountEntered(amount))
        pending = self.session.handle(s.QuoteRequested(crypto))
        deadline = time.monotonic() + self.payment_wait_s
        try:
            while pending:
                cmd = pending.pop(0)
                pending += await self._execute(cmd, report, reference, deadline, started)
        finally:
            self._stop_readers()
        report.status = _STATUS.get(self.session.state, "unknown")
        report.reason = report.reason or self.session.reason
        report.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return report

    async def _execute(
        self, cmd: s.Command, report: SaleReport, reference: str, deadline: float, started: float
    ) -> list[s.Command]:
        sess = self.session
        match cmd:
            case s.RequestQuote(amount, asset):
                if sess.quotes_requested > MAX_QUOTES:
                    return sess.handle(s.SaleCancelled())
                t0 = time.perf_counter()
                try:
                    quote = await self.client.quote(amount, asset)
                except (QuoteRefusedError, BackendError) as exc:
                    report.reason = f"{exc.title}: {exc.message}"
                    self.journal.update(reference, "cancelled", detail=report.reason)
                    sess.handle(s.QuoteRefused(exc.message))
                    return sess.handle(s.SaleCancelled())
                report.timings_ms["quote"] = (time.perf_counter() - t0) * 1000
                report.crypto, report.rate = quote.crypto, str(quote.rate)
                report.quote_id, report.quote_expires_at = quote.quote_id, quote.expires_at
                report.idempotency_key = idempotency_key_for(reference, quote.quote_id)
                self.journal.update(
                    reference,
                    "awaiting_payment",
                    crypto_minor=quote.crypto.minor,
                    quote_id=quote.quote_id,
                    idempotency_key=report.idempotency_key,
                )
                return sess.handle(s.QuoteReceived(quote))
            case s.StartReaders():
                self._start_readers()
                return []
            case s.StopReaders():
                self._stop_readers()
                return []
            case s.StartQuoteTimer(expires_at):
                return await self._wait_for_payment(expires_at, deadline, report, started)
            case s.SubmitPayment(quote, payload, source):
                report.source = source
                self.journal.update(reference, "submitting", payload_hash=payload_hash(payload))
                t0 = time.perf_counter()
                try:
                    result = await self.client.create_payment(
                        quote=quote,
                        reference=reference,
                        payload=payload,
                        idempotency_key=report.idempotency_key,
                    )
                except (OutcomeUnknownError, BackendUnavailableError) as exc:
                    report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
                    self.journal.update(reference, "unknown_outcome", reason=exc.message)
                    return sess.handle(s.OutcomeUnknown(exc.message))
                except BackendError as exc:
                    report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
                    self.journal.update(reference, "declined", reason=exc.message)
                    return sess.handle(s.PaymentDeclined(exc.message))
                report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
                return self._settle(result, report, reference)
            case s.InquireStatus():
                for _ in range(INQUIRY_ATTEMPTS):
                    await asyncio.sleep(INQUIRY_DELAY_S)
                    try:
                        found = await self.client.find_by_reference(reference)
                    except BackendError:
                        continue
                    if found is None:
                        # the backend never saw it: safe to send again with the same key
                        assert sess.quote is not None and sess.payload is not None
                        try:
                            found = await self.client.create_payment(
                                quote=sess.quote,
                                reference=reference,
                                payload=sess.payload,
                                idempotency_key=report.idempotency_key,
                            )
                        except BackendError:
                            continue
                    if found.status in ("approved", "declined"):
                        return self._settle(found, report, reference)
                return []  # left in unknown_outcome; `reconcile` settles it later
            case s.ShowNotice(message):
                report.notices.append(message)
                return []
            case s.ShowResult():
                return []
        raise AssertionError(f"unhandled command {cmd!r}")  # pragma: no cover

    def _settle(self, result: PaymentResult, report: SaleReport, reference: str) -> list[s.Command]:
        report.payment_id = result.payment_id
        if result.status == "approved":
            self.journal.update(reference, "approved", payment_id=result.payment_id)
            return self.session.handle(s.PaymentApproved(result.payment_id))
        if result.status == "declined":
            reason = result.reason or "declined"
            self.journal.update(reference, "declined", payment_id=result.payment_id, reason=reason)
            return self.session.handle(s.PaymentDeclined(reason, result.payment_id))
        self.journal.update(reference, "unknown_outcome", payment_id=result.payment_id, reason=result.status)
        return self.session.handle(s.OutcomeUnknown(f"payment is {result.status}"))

    async def _wait_for_payment(
        self, expires_at: float, deadline: float, report: SaleReport, started: float
    ) -> list[s.Command]:
        while True:
            now_wall = self.clock()
            timeout = min(expires_at - now_wall, deadline - time.monotonic())
            if timeout <= 0:
                if time.monotonic() >= deadline:
                    self.journal.update(report.reference, "expired")
                    return self.session.handle(s.PaymentWindowClosed())
                return self.session.handle(s.QuoteExpired(now_wall))
            try:
                event = await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:
                continue
            if isinstance(event, TagRead | CodeScanned):
                report.timings_ms["to_payment"] = (time.perf_counter() - started) * 1000
                return self.session.handle(s.PaymentPresented(event.payload, event.reader, self.clock()))
            if isinstance(event, ReaderError):
                report.notices.append(f"{event.title}: {event.message}")

    def _start_readers(self) -> None:
        loop = asyncio.get_running_loop()

        def sink(event: ReaderEvent) -> None:
            loop.call_soon_threadsafe(self._events.put_nowait, event)

        for device in self.readers:
            reader = self.reader_factory(device)
            reader.start(sink)
            self._open.append(reader)

    def _stop_readers(self) -> None:
        while self._open:
            self._open.pop().stop()
        self._events = asyncio.Queue()

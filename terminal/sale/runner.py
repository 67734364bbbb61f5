"""The headless face of the sale core (``cryptopos pay``, ``cryptopos demo``): one sale from
amount to result, waiting for readers itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from drivers import CodeScanned, ReaderError, ReaderEvent, TagRead, open_reader
from drivers.registry import Reader
from terminal.client import BackendUnavailableError
from terminal.domain import session as s
from terminal.domain.money import Asset, Money
from terminal.journal import Journal, SaleFinalError
from terminal.presentation import customer_payment_filter
from terminal.sale import offline, settling
from terminal.sale.core import INQUIRY_ATTEMPTS, INQUIRY_DELAY_S, SaleCore
from terminal.sale.offline import OfflinePolicy
from terminal.sale.report import UNKNOWN_NEXT_STEP, SaleReport, unknown_in_words

if TYPE_CHECKING:
    from terminal.client import BackendClient

# A tap this close to the quote's expiry re-quotes: the payment would arrive on an expired rate.
QUOTE_MARGIN_S = 2.0


def reader_for(device: str, factory: Callable[..., Reader], *, clock: Callable[[], float]) -> Reader:
    """Open ``device``; a camera gets the customer-payment filter, so a QR that is not a payment
    (a loyalty card in view) is rejected by the reader and never reaches the backend."""
    if device.startswith("camera:"):
        return factory(device, accept=customer_payment_filter(clock))
    return factory(device)


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

    async def run(self, amount: Money, crypto: Asset, *, tip: Money | None = None) -> SaleReport:
        """One sale of ``amount`` (``tip`` included, when there is one) paid in ``crypto``."""
        self._started = time.perf_counter()
        self.enter(amount, tip=tip)
        pending = self.open(crypto)  # journaled before any network call
        report = self.opened
        self._deadline = time.monotonic() + self.payment_wait_s
        try:
            await self.drive(pending)
        except SaleFinalError:
            # `reconcile` in another process closed this sale before anything was sent
            self.outcome = settling.journal_state(self)
            report.reason = settling.CLOSED_ELSEWHERE
        finally:
            self.stop_readers()
        report.status = self.status
        if report.status != "queued":
            report.reason = report.reason or self.session.reason
        if report.status == "unknown":
            report.reason = unknown_in_words(report.reason)
            report.next_step = UNKNOWN_NEXT_STEP
        report.timings_ms["total"] = (time.perf_counter() - self._started) * 1000
        return report

    async def quote_unreachable(self, exc: BackendUnavailableError) -> list[s.Command]:
        self.session.handle(s.QuoteRefused(exc.message))
        await offline.take(self, exc, self._presented_offline)
        return []

    async def _presented_offline(self) -> tuple[str, str] | None:
        """The first payment a reader presents before the payment window ends, or None."""
        await self.start_readers()
        try:
            while True:
                timeout = self._deadline - time.monotonic()
                if timeout <= 0:
                    return None
                try:
                    event = await asyncio.wait_for(self._events.get(), timeout)
                except TimeoutError:
                    continue
                if isinstance(event, TagRead | CodeScanned):
                    return event.payload, event.reader
        finally:
            self.stop_readers()

    async def await_payment(self, expires_at: float) -> list[s.Command]:
        report = self.opened
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

"""The merchant-presented invoice of the waiting sale: issued when readers start, followed by a
task of its own while the sale waits, and a paid one presented to the sale core as the payment.

The task asks the desk for the invoice's next change: one held long-poll at a time where the
backend offers it, polling where it does not (the desk's choice, by discovery). So the till's
ticks make no request, and the register's lock is taken only to present a paid invoice. The task
ends when the sale stops waiting (the readers are stopped: paid, tapped, cancelled, expired,
re-quoted) and when the register closes. The desk that talks to the backend is
:class:`terminal.tui.invoices.ClientInvoiceDesk`."""

from __future__ import annotations

import asyncio
import logging

from terminal.client import BackendError, PaymentResult
from terminal.domain import session as s
from terminal.tui.till.link import BackendLink
from terminal.tui.updates import Invoice

INVOICE_SOURCE = "invoice"  # what presents a paid invoice to the sale core
PAID = ("paid", "overpaid", "late_paid")
# after a failed read: the client has already retried and backed off (or its breaker is open,
# and then it fails at once: this keeps the task from spinning)
RETRY_S = 1.0

log = logging.getLogger("cryptopos.tui")


class InvoiceSteps(BackendLink):
    _followers: set[asyncio.Task[None]]  # invoice tasks not finished yet (cancelled ones included)

    async def _issue_invoice(self) -> None:
        quote, reference = self.session.quote, self.core.reference
        if self.invoices is None or quote is None or reference is None:
            return
        # its own reference: the invoice books a pending payment, and a card tapped instead must
        # not collide with it (the backend refuses a second payment with one reference)
        try:
            invoice = await self.invoices.issue(
                quote=quote, reference=f"{reference}-inv{self.session.quotes_requested}"
            )
        except BackendError as exc:
            self._notice("No invoice QR", exc.message, "the customer can still tap or show a QR", "warning")
            return
        self._publish(invoice=invoice)
        self._stop_following()
        task = asyncio.create_task(self._follow(invoice), name=f"invoice {invoice.invoice_id}")
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)

    def _stop_following(self) -> None:
        """The sale stopped waiting. The task presenting a paid invoice is not cancelled: the
        sale's step it runs stops the readers too, and the task ends after that step."""
        current = asyncio.current_task()
        for task in self._followers:
            if task is not current:
                task.cancel()

    async def aclose(self) -> None:
        for task in self._followers:
            task.cancel()
        await asyncio.gather(*self._followers, return_exceptions=True)
        await super().aclose()

    def _waiting_on(self, invoice: Invoice) -> bool:
        shown = self.view.invoice
        return (
            self.session.state is s.State.AWAITING_PAYMENT
            and shown is not None
            and shown.invoice_id == invoice.invoice_id
        )

    async def _follow(self, invoice: Invoice) -> None:
        """Show each change of the waiting sale's invoice; present it to the sale once paid."""
        assert self.invoices is not None
        failed = False
        while True:
            try:
                fresh = await self.invoices.follow(invoice)
            except BackendError as exc:
                failed = True
                self._mark_offline(exc.message)
                await asyncio.sleep(RETRY_S)
                continue
            except Exception as exc:  # a background task: say so on the till, never a traceback
                log.exception("following invoice %s", invoice.invoice_id)
                self._notice(
                    "Invoice not followed",
                    f"{type(exc).__name__}: {exc}",
                    "the customer can still tap or show a QR",
                    "error",
                )
                return
            if failed:
                failed = False
                self._mark_online()
            if not self._waiting_on(invoice):
                return
            if fresh != invoice:
                self._publish(invoice=fresh)
                invoice = fresh
            if fresh.status in PAID:
                await self._present_paid(fresh)
                return

    async def _present_paid(self, invoice: Invoice) -> None:
        try:
            async with self._lock:
                if self._waiting_on(invoice):  # not tapped, cancelled or expired meanwhile
                    await self._run(
                        self.core.present(f"invoice:{invoice.invoice_id}", INVOICE_SOURCE, self.clock())
                    )
        except Exception as exc:  # as the app's guard says it for a cashier's step
            log.exception("presenting paid invoice %s", invoice.invoice_id)
            self._notice(
                "Unexpected error",
                f"{type(exc).__name__}: {exc}",
                "the sale is journaled; check History, then try again",
                "error",
            )

    def _paid_invoice(self, source: str) -> PaymentResult | None:
        """The payment behind a paid invoice (the backend already has it), or None for a reader's."""
        if source != INVOICE_SOURCE:
            return None
        invoice = self.view.invoice
        assert invoice is not None and invoice.payment_id is not None
        return PaymentResult(invoice.payment_id, self.core.reference or "", "approved", None)

"""The merchant-presented invoice of the waiting sale: issued when readers start, polled on
every tick, and a paid one presented to the sale core as the payment. The desk that talks to
the backend is :class:`terminal.tui.invoices.ClientInvoiceDesk`."""

from __future__ import annotations

from terminal.client import BackendError, PaymentResult
from terminal.tui.till.link import BackendLink
from terminal.tui.updates import Invoice

INVOICE_SOURCE = "invoice"  # what presents a paid invoice to the sale core
PAID = ("paid", "overpaid", "late_paid")


class InvoiceSteps(BackendLink):
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

    async def _poll_invoice(self) -> Invoice | None:
        """Refresh the waiting sale's invoice; returns it when it has been paid."""
        invoice = self.view.invoice
        if invoice is None or self.invoices is None:
            return None
        try:
            fresh = await self.invoices.refresh(invoice)
        except BackendError as exc:
            self._mark_offline(exc.message)
            return None
        if fresh != invoice:
            self._publish(invoice=fresh)
        return fresh if fresh.status in PAID else None

    def _paid_invoice(self, source: str) -> PaymentResult | None:
        """The payment behind a paid invoice (the backend already has it), or None for a reader's."""
        if source != INVOICE_SOURCE:
            return None
        invoice = self.view.invoice
        assert invoice is not None and invoice.payment_id is not None
        return PaymentResult(invoice.payment_id, self.core.reference or "", "approved", None)

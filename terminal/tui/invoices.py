"""The till's invoice desk: merchant-presented invoices through the backend client (payments v2).

The register asks the desk for an invoice when it starts waiting for a payment, then follows it
from a task of its own; the desk follows it with the client's
:class:`~terminal.client.InvoiceWaiter` (one held long-poll at a time where discovery lists
``invoice-wait``, polling every ``poll_s`` otherwise) and turns the client's
:class:`~terminal.client.InvoiceResult` into the screens' :class:`~terminal.tui.updates.Invoice`.
A backend speaking v1 has no invoices: the client raises ``UnsupportedError`` and the register
shows a notice, the customer taps instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from terminal.tui.updates import Invoice

if TYPE_CHECKING:
    from terminal.client import BackendClient, InvoiceResult, InvoiceWaiter
    from terminal.domain.quote import Quote


def invoice_key(reference: str) -> str:
    """Derived from the invoice's own reference: a retry after a lost answer finds the same invoice."""
    return hashlib.sha256(f"cryptopos-invoice|{reference}".encode()).hexdigest()[:32]


class ClientInvoiceDesk:
    """An :class:`~terminal.tui.updates.InvoiceDesk` over the backend client."""

    def __init__(self, client: Callable[[], BackendClient], *, poll_s: float = 0.5) -> None:
        self._client = client  # the register's client, built when the till first connects
        self.poll_s = poll_s  # against a backend without the long-poll: the till's old tick
        self._waiter: InvoiceWaiter | None = None
        # the client's view of the invoice being followed: the waiter compares against it and
        # asks for the change after its ``version``, which the screens' Invoice does not carry
        self._latest: InvoiceResult | None = None

    @staticmethod
    def _invoice(result: InvoiceResult, known_payment: str | None = None) -> Invoice:
        paid = result.payment_status == "approved"
        return Invoice(
            invoice_id=result.invoice_id,
            uri=result.uri,
            kind=result.kind,
            status=result.status,
            payment_id=result.payment_id if paid else known_payment,
        )

    async def issue(self, *, quote: Quote, reference: str) -> Invoice:
        result = await self._client().create_invoice(
            quote=quote, reference=reference, idempotency_key=invoice_key(reference)
        )
        self._latest = result
        return self._invoice(result)

    async def follow(self, invoice: Invoice) -> Invoice:
        """The invoice once it is no longer ``invoice``, or as it is after the waiter's wait."""
        known = self._latest
        if known is None or known.invoice_id != invoice.invoice_id:  # not the one issued last
            known = self._latest = await self._client().get_invoice(invoice.invoice_id)
            now = self._invoice(known, invoice.payment_id)
            if now != invoice:
                return now
        if self._waiter is None:
            from terminal.client import InvoiceWaiter

            self._waiter = InvoiceWaiter(self._client(), poll_s=self.poll_s)
        result = self._latest = await self._waiter.next(known)
        return self._invoice(result, invoice.payment_id)

"""The till's invoice desk: merchant-presented invoices through the backend client (payments v2).

The register asks the desk for an invoice when it starts waiting for a payment and polls it on
every tick; the desk only turns the client's :class:`~terminal.client.InvoiceResult` into the
screens' :class:`~terminal.tui.updates.Invoice`. A backend speaking v1 has no invoices: the
client raises ``UnsupportedError`` and the register shows a notice, the customer taps instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from terminal.tui.updates import Invoice

if TYPE_CHECKING:
    from terminal.client import BackendClient, InvoiceResult
    from terminal.domain.quote import Quote


def invoice_key(reference: str) -> str:
    """Derived from the invoice's own reference: a retry after a lost answer finds the same invoice."""
    return hashlib.sha256(f"cryptopos-invoice|{reference}".encode()).hexdigest()[:32]


class ClientInvoiceDesk:
    """An :class:`~terminal.tui.updates.InvoiceDesk` over the backend client."""

    def __init__(self, client: Callable[[], BackendClient]) -> None:
        self._client = client  # the register's client, built when the till first connects

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
        return self._invoice(result)

    async def refresh(self, invoice: Invoice) -> Invoice:
        result = await self._client().get_invoice(invoice.invoice_id)
        return self._invoice(result, invoice.payment_id)

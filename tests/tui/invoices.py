"""The till's own invoice desk (the backend client's ``create_invoice``/``get_invoice``), plus
what the customer's wallet does in test mode: pay the invoice through the emulator's
``POST /payments/v2/invoices/{id}/simulate``, signed by the same client."""

from __future__ import annotations

from typing import Any

from terminal.client import BackendClient
from terminal.domain.quote import Quote
from terminal.tui.invoices import ClientInvoiceDesk
from terminal.tui.updates import Invoice


class BackendInvoiceDesk(ClientInvoiceDesk):
    def __init__(self, client: BackendClient) -> None:
        super().__init__(lambda: client)
        self.client = client
        self.due: dict[str, int] = {}

    async def issue(self, *, quote: Quote, reference: str) -> Invoice:
        invoice = await super().issue(quote=quote, reference=reference)
        self.due[invoice.invoice_id] = (await self.client.get_invoice(invoice.invoice_id)).amount_minor
        return invoice

    async def pay(self, invoice_id: str, *, short_by: int = 0) -> dict[str, Any]:
        """The customer's wallet pays (test mode): the whole amount, or ``short_by`` less."""
        body = {"amount_minor": str(self.due[invoice_id] - short_by)}
        return await self.client.request_json("POST", f"/payments/v2/invoices/{invoice_id}/simulate", body)

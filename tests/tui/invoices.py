"""A test double of the payments-v2 invoice API (not on main yet): issues a BIP21 invoice
for the quote, and lets a test play the customer's wallet paying it. It records the
payment in the emulated backend's store, so the journal and the backend agree."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote as urlquote

from backend_stub.state import BackendState, StoredPayment
from terminal.domain.quote import Quote
from terminal.tui.controller import Invoice
from tests.tui.harness import FakeClock

# BIP173's example P2WPKH address: a valid mainnet bech32 checksum, owned by nobody we know.
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


class EmulatedInvoiceDesk:
    def __init__(self, backend: BackendState, clock: FakeClock) -> None:
        self.backend = backend
        self.clock = clock
        self.issued: dict[str, tuple[Invoice, Quote, str]] = {}
        self.paid: set[str] = set()

    async def issue(self, *, quote: Quote, reference: str) -> Invoice:
        invoice_id = self.backend.next_id("inv")
        # BIP21 as a wallet-friendly backend would issue it: address, amount, a short label (~75 chars)
        uri = f"bitcoin:{ADDRESS}?amount={quote.crypto.amount_str().rstrip('0')}&label={urlquote('Demo')}"
        invoice = Invoice(invoice_id=invoice_id, uri=uri, kind="bip21")
        self.issued[invoice_id] = (invoice, quote, reference)
        return invoice

    def pay(self, invoice_id: str) -> str:
        """The customer's wallet pays: the backend books an approved payment."""
        invoice, quote, reference = self.issued[invoice_id]
        payment_id = self.backend.next_id("pay")
        self.backend.payments[payment_id] = StoredPayment(
            payment_id,
            reference,
            quote.quote_id,
            quote.crypto.asset.code,
            quote.crypto.minor,
            quote.fiat.minor,
            quote.fiat.asset.code,
            "approved",
            None,
            self.clock(),
            "t_test_01",
        )
        self.backend.by_reference[reference] = payment_id
        self.issued[invoice_id] = (replace(invoice, status="paid", payment_id=payment_id), quote, reference)
        return payment_id

    async def refresh(self, invoice: Invoice) -> Invoice:
        return self.issued[invoice.invoice_id][0]

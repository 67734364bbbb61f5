"""A test double of the payments-v2 invoice API (documented in docs/api.md, not served by
the emulator nor spoken by the client yet): issues a BIP21 invoice for the quote and lets
a test play the customer's wallet paying it, which books the payment in the emulated
backend's ledger (so the journal and the backend can be compared)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote as urlquote

from backend_stub.services.payments import core
from terminal.domain.quote import Quote
from terminal.tui.updates import Invoice
from tests.tui.harness import KEY_ID, Backend, FakeClock

# BIP173's example P2WPKH address: a valid mainnet bech32 checksum, owned by nobody we know.
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


class EmulatedInvoiceDesk:
    def __init__(self, backend: Backend, clock: FakeClock) -> None:
        self.backend = backend
        self.clock = clock
        self.issued: dict[str, tuple[Invoice, Quote, str]] = {}

    async def issue(self, *, quote: Quote, reference: str) -> Invoice:
        invoice_id = f"inv_{len(self.issued) + 1:04d}"
        # BIP21 as a wallet-friendly backend would issue it: address, amount, a short label (~75 chars)
        uri = f"bitcoin:{ADDRESS}?amount={quote.crypto.amount_str().rstrip('0')}&label={urlquote('Demo')}"
        invoice = Invoice(invoice_id=invoice_id, uri=uri, kind="bip21")
        self.issued[invoice_id] = (invoice, quote, reference)
        return invoice

    def pay(self, invoice_id: str) -> str:
        """The customer's wallet pays: the backend books an approved payment for the quote."""
        invoice, quote, reference = self.issued[invoice_id]
        ctx = self.backend.context
        with ctx.store.write() as db:
            row = core.insert_payment(
                db,
                ctx,
                terminal=KEY_ID,
                reference=reference,
                q=core.load_quote(db, quote.quote_id, terminal=KEY_ID),
                method="invoice",
                status="approved",
                reason=None,
            )
        payment_id = str(row["payment_id"])
        self.issued[invoice_id] = (replace(invoice, status="paid", payment_id=payment_id), quote, reference)
        return payment_id

    async def refresh(self, invoice: Invoice) -> Invoice:
        return self.issued[invoice.invoice_id][0]

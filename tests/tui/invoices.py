"""An invoice desk over the emulated backend's real payments-v2 invoice endpoints.

The backend serves ``POST /payments/v2/invoices``, ``GET .../{id}`` and (test mode)
``POST .../{id}/simulate``; the backend client on this branch has no invoice calls yet, so
this desk signs its own requests (the same HMAC scheme) through the till's transport. When
the client gains ``create_invoice``/``get_invoice`` the register's desk becomes a thin adapter
over them; the TUI side (drawing, polling, settling) is what these tests exercise.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import Any

import httpx

from terminal.domain import signing
from terminal.domain.quote import Quote
from terminal.tui.updates import Invoice
from tests.tui.harness import KEY_ID, SECRET, FakeClock

KINDS = {"BTC": "bip21", "BTC-LN": "bolt11", "ETH": "eip681", "USDC": "eip681", "SOL": "solana"}


class BackendInvoiceDesk:
    def __init__(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> None:
        self.transport = transport
        self.clock = clock
        self.due: dict[str, int] = {}

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        content = json.dumps(body).encode() if body is not None else b""
        headers = signing.signature_headers(
            key_id=KEY_ID,
            secret=SECRET,
            method=method,
            path=path,
            timestamp=int(self.clock()),
            nonce=secrets.token_hex(12),
            body=content,
        )
        if body is not None:
            headers = {**headers, "Content-Type": "application/json", "Idempotency-Key": secrets.token_hex(8)}
        async with httpx.AsyncClient(base_url="http://embedded.invalid", transport=self.transport) as http:
            resp = await http.request(method, path, content=content, headers=headers)
        doc: dict[str, Any] = resp.json()
        assert resp.status_code < 300, doc
        return doc

    @staticmethod
    def _invoice(doc: dict[str, Any]) -> Invoice:
        paid = doc["payment_status"] == "approved"
        return Invoice(
            invoice_id=doc["invoice_id"],
            uri=doc["uri"],
            kind=doc["kind"],
            status=doc["status"],
            payment_id=doc["payment_id"] if paid else None,
        )

    async def issue(self, *, quote: Quote, reference: str) -> Invoice:
        body = {"quote_id": quote.quote_id, "reference": reference, "kind": KINDS[quote.crypto.asset.code]}
        doc = await self._call("POST", "/payments/v2/invoices", body)
        self.due[doc["invoice_id"]] = int(doc["amount_minor"])
        return self._invoice(doc)

    async def refresh(self, invoice: Invoice) -> Invoice:
        fresh = self._invoice(await self._call("GET", f"/payments/v2/invoices/{invoice.invoice_id}"))
        return replace(fresh, payment_id=fresh.payment_id or invoice.payment_id)

    async def pay(self, invoice_id: str, *, short_by: int = 0) -> dict[str, Any]:
        """The customer's wallet pays (test mode): the whole amount, or ``short_by`` less."""
        body = {"amount_minor": str(self.due[invoice_id] - short_by)}
        return await self._call("POST", f"/payments/v2/invoices/{invoice_id}/simulate", body)

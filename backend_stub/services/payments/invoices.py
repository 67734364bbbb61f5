"""Merchant-presented invoices: a payment URI for the customer's wallet, and what arrives.

The terminal shows ``uri`` as a QR code (BIP21 / EIP-681 / Solana Pay / BOLT11); the
customer's wallet pays; the service "detects" the payment. Here the wallet is simulated by
``POST .../invoices/{id}/simulate`` (test mode), and detection is the state machine below.

Invoice states::

    pending ──pay < due──▶ partially_paid ──rest──▶ paid
       │  └───pay = due──▶ paid ──more──▶ overpaid
       │  └───pay > due──▶ overpaid
       └──expiry──▶ expired ──pay──▶ late_paid        (any payment after expiry is late)

The invoice's payment follows: ``paid``/``overpaid`` → approved; ``partially_paid`` → pending
(reason ``partial_payment``); ``expired`` → declined (``invoice_expired``); ``late_paid`` →
pending (``late_payment``: the rate is no longer locked, the merchant decides).
Lightning is all-or-nothing: a BOLT11 invoice takes no partial payment.

Receiving addresses and the Lightning node key are derived from the settings' seed and the
invoice id, so they are valid (checksummed) and stable across instances.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from backend_stub.problems import ProblemError
from backend_stub.services.common import Context, iso
from backend_stub.services.payments.core import QuoteRow
from backend_stub.store import Row, Tx
from terminal.domain.payloads import build_bip21, build_eip681, build_solana_pay, encode_bolt11
from terminal.domain.payloads.addresses import b58encode, encode_segwit
from terminal.domain.payloads.ethereum import checksum_address

Kind = Literal["bip21", "eip681", "solana", "bolt11"]
ASSETS_BY_KIND: dict[str, frozenset[str]] = {
    "bip21": frozenset({"BTC"}),
    "eip681": frozenset({"ETH", "USDC", "USDT"}),
    "solana": frozenset({"SOL", "USDC", "USDT"}),
    "bolt11": frozenset({"BTC-LN"}),
}
ETH_CHAIN_ID = 1


def _derive(ctx: Context, purpose: str, invoice_id: str, size: int) -> bytes:
    return hashlib.sha256(ctx.settings.signing_seed + f"|{purpose}|{invoice_id}".encode()).digest()[:size]


def check_kind(kind: str, asset: str) -> None:
    if asset not in ASSETS_BY_KIND[kind]:
        fits = ", ".join(k for k, assets in ASSETS_BY_KIND.items() if asset in assets) or "none"
        raise ProblemError(
            422,
            "invoice-kind-mismatch",
            "This invoice kind cannot carry this asset",
            f"a {kind} invoice cannot request {asset}; kinds for {asset}: {fits}",
        )


def build_uri(ctx: Context, *, kind: str, invoice_id: str, q: QuoteRow, reference: str) -> tuple[str, str]:
    """``(uri, address)`` for the customer's wallet."""
    label = f"cryptopos {reference}"
    if kind == "bip21":
        address = encode_segwit("bc", 0, _derive(ctx, "btc", invoice_id, 20))
        return build_bip21(address, amount_sat=q.crypto_minor, label=label), address
    if kind == "eip681":
        address = checksum_address("0x" + _derive(ctx, "eth", invoice_id, 20).hex())
        token = None if q.asset == "ETH" else q.asset
        uri = build_eip681(address, amount_minor=q.crypto_minor, chain_id=ETH_CHAIN_ID, token=token)
        return uri, address
    if kind == "solana":
        address = b58encode(_derive(ctx, "sol", invoice_id, 32))
        ref = b58encode(_derive(ctx, "sol-ref", invoice_id, 32))  # how a watcher finds the transfer
        uri = build_solana_pay(
            address, amount_minor=q.crypto_minor, asset=q.asset, references=(ref,), label=label
        )
        return uri, address
    node_key = hashlib.sha256(ctx.settings.signing_seed + b"|ln-node").digest()
    preimage = _derive(ctx, "ln-preimage", invoice_id, 32)
    now = ctx.now()
    uri = encode_bolt11(
        private_key=node_key,
        payment_hash=hashlib.sha256(preimage).digest(),
        payment_secret=_derive(ctx, "ln-secret", invoice_id, 32),
        timestamp=int(now),
        amount_msat=q.crypto_minor,
        description=label,
        expiry=max(1, int(q.expires_at - now)),
    )
    return uri, hashlib.sha256(preimage).hexdigest()


def load(db: Tx, invoice_id: str, *, terminal: str, lock: bool = False) -> Row:
    """An invoice of this terminal; ``lock``: to change it in this transaction."""
    row: Row | None = db.execute(
        "SELECT * FROM invoices WHERE invoice_id = ? AND terminal_id = ?"  # noqa: S608 - a fixed suffix
        + (db.for_update if lock else ""),
        (invoice_id, terminal),
    ).fetchone()
    if row is None:
        raise ProblemError(404, "unknown-invoice", "Unknown invoice", f"no invoice {invoice_id[:64]!r}")
    return row


PAYMENT_FOR = {
    "paid": ("approved", None),
    "overpaid": ("approved", "overpaid"),
    "partially_paid": ("pending", "partial_payment"),
    "expired": ("declined", "invoice_expired"),
    "late_paid": ("pending", "late_payment"),
    "pending": ("pending", None),
}


def _set(db: Tx, inv: Row, *, status: str, received: int, now: float) -> None:
    db.execute(
        "UPDATE invoices SET status = ?, received_minor = ?, updated_at = ? WHERE invoice_id = ?",
        (status, str(received), now, inv["invoice_id"]),
    )
    pay_status, reason = PAYMENT_FOR[status]
    db.execute(
        "UPDATE payments SET status = ?, reason = ?, updated_at = ? WHERE payment_id = ?",
        (pay_status, reason, now, inv["payment_id"]),
    )


def expiry_due(inv: Row, *, now: float) -> bool:
    """A pending invoice whose time is up, not yet marked expired."""
    return bool(inv["status"] == "pending" and now >= float(inv["expires_at"]))


def version(inv: Row) -> str:
    """Changes whenever the invoice does: every payment received raises ``received_minor`` and
    every change of status sets ``updated_at`` (the invoice's payment follows its status)."""
    text = f"{inv['status']}|{inv['received_minor']}|{inv['updated_at']!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def refresh(db: Tx, inv: Row, *, now: float) -> Row:
    """Expire a pending invoice whose time is up (lazily, when someone looks)."""
    if expiry_due(inv, now=now):
        _set(db, inv, status="expired", received=0, now=now)
        row: Row = db.execute("SELECT * FROM invoices WHERE invoice_id = ?", (inv["invoice_id"],)).fetchone()
        return row
    return inv


def receive(db: Tx, inv: Row, amount: int, *, now: float) -> Row:
    """The customer's wallet paid ``amount`` minor units to this invoice."""
    if amount <= 0:
        raise ProblemError(422, "invalid-amount", "Invalid amount", "a payment is at least one minor unit")
    inv = refresh(db, inv, now=now)
    due, got = int(inv["amount_minor"]), int(inv["received_minor"]) + amount
    if inv["kind"] == "bolt11" and got < due:
        raise ProblemError(
            422,
            "amount-mismatch",
            "Lightning invoices are paid in full",
            f"the invoice is for {due} msat; a Lightning payment cannot be partial",
        )
    if inv["status"] in ("expired", "late_paid"):
        status = "late_paid"
    elif got < due:
        status = "partially_paid"
    elif got == due:
        status = "paid"
    else:
        status = "overpaid"
    _set(db, inv, status=status, received=got, now=now)
    row: Row = db.execute("SELECT * FROM invoices WHERE invoice_id = ?", (inv["invoice_id"],)).fetchone()
    return row


def doc(inv: Row, payment: Row) -> dict[str, Any]:
    return {
        "invoice_id": inv["invoice_id"],
        "payment_id": inv["payment_id"],
        "reference": payment["reference"],
        "kind": inv["kind"],
        "uri": inv["uri"],
        "address": inv["address"],
        "asset": payment["asset"],
        "amount_minor": inv["amount_minor"],
        "received_minor": inv["received_minor"],
        "fiat_minor": int(payment["fiat_minor"]),
        "fiat_currency": payment["fiat_currency"],
        "status": inv["status"],
        "payment_status": payment["status"],
        "expires_at": iso(inv["expires_at"]),
        "created_at": iso(inv["created_at"]),
        "updated_at": iso(inv["updated_at"]),
        "version": version(inv),
    }

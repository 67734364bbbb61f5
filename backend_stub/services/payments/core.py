"""Payments shared by v1 and v2: the ledger rows, validation and the outcome of a payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend_stub.problems import ProblemError
from backend_stub.services.common import Context, iso, new_id
from backend_stub.store import Row, Tx
from backend_stub.testmode import Behaviour, payment_behaviour
from terminal.domain.money import ASSETS, Money
from terminal.domain.payloads import PayloadError, parse_payload

FINAL = frozenset({"approved", "declined"})


@dataclass(frozen=True, slots=True)
class QuoteRow:
    quote_id: str
    fiat_minor: int
    fiat_currency: str
    asset: str
    crypto_minor: int
    expires_at: float


def load_quote(db: Tx, quote_id: str, *, terminal: str) -> QuoteRow:
    """A quote this terminal was given (another terminal's quote is unknown to it)."""
    row = db.execute(
        "SELECT quote_id, fiat_minor, fiat_currency, asset, crypto_minor, expires_at FROM quotes "
        "WHERE quote_id = ? AND terminal_id = ?",
        (quote_id, terminal),
    ).fetchone()
    if row is None:
        raise ProblemError(404, "unknown-quote", "Unknown quote", f"no quote {quote_id[:64]!r}")
    return QuoteRow(
        row["quote_id"],
        int(row["fiat_minor"]),
        row["fiat_currency"],
        row["asset"],
        int(row["crypto_minor"]),
        float(row["expires_at"]),
    )


def check_quote(ctx: Context, q: QuoteRow, *, asset: str, amount_minor: int) -> None:
    if ctx.now() >= q.expires_at:
        raise ProblemError(
            409, "quote-expired", "Quote expired", f"quote {q.quote_id} expired at {iso(q.expires_at)}"
        )
    if asset.strip().upper() != q.asset or amount_minor != q.crypto_minor:
        raise ProblemError(
            422,
            "amount-mismatch",
            "Amount does not match the quote",
            f"quote {q.quote_id} is for {q.crypto_minor} minor units of {q.asset}",
        )


def check_reference(db: Tx, *, terminal: str, reference: str) -> None:
    row = db.execute(
        "SELECT payment_id FROM payments WHERE terminal_id = ? AND reference = ?", (terminal, reference)
    ).fetchone()
    if row is not None:
        raise ProblemError(
            409,
            "duplicate-reference",
            "A payment with this reference exists",
            f"reference {reference[:64]!r} is payment {row['payment_id']}",
            payment_id=row["payment_id"],
        )


def behaviour(ctx: Context, payload: str, fiat_minor: int) -> Behaviour | None:
    """What the test mode forces for this payload and amount, if anything."""
    return payment_behaviour(payload, fiat_minor) if ctx.settings.test_mode else None


def insert_payment(
    db: Tx,
    ctx: Context,
    *,
    terminal: str,
    reference: str,
    q: QuoteRow,
    method: str,
    status: str,
    reason: str | None,
) -> Row:
    now = ctx.now()
    payment_id = new_id("pay")
    seq = ctx.store.next_seq(db)
    db.execute(
        "INSERT INTO payments (payment_id, terminal_id, reference, quote_id, method, asset, amount_minor, "
        "fiat_minor, fiat_currency, status, reason, created_at, updated_at, seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            payment_id,
            terminal,
            reference,
            q.quote_id,
            method,
            q.asset,
            str(q.crypto_minor),
            q.fiat_minor,
            q.fiat_currency,
            status,
            reason,
            now,
            now,
            seq,
        ),
    )
    return load_payment(db, payment_id, terminal=terminal)


def load_payment(db: Tx, payment_id: str, *, terminal: str, lock: bool = False) -> Row:
    """A payment of this terminal; ``lock``: to change it in this transaction (a refund)."""
    row: Row | None = db.execute(
        "SELECT * FROM payments WHERE payment_id = ? AND terminal_id = ?"  # noqa: S608 - a fixed suffix
        + (db.for_update if lock else ""),
        (payment_id, terminal),
    ).fetchone()
    if row is None:
        raise ProblemError(404, "unknown-payment", "Unknown payment", f"no payment {payment_id[:64]!r}")
    return row


def _doc(row: Row, version_fields: dict[str, Any]) -> dict[str, Any]:
    """A payment on the wire: what every version shows, around a version's own fields."""
    return {
        "payment_id": row["payment_id"],
        "reference": row["reference"],
        "quote_id": row["quote_id"],
        "status": row["status"],
        "reason": row["reason"],
        **version_fields,
        "fiat_currency": row["fiat_currency"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def doc_v1(row: Row) -> dict[str, Any]:
    """Amounts as decimal strings in major units."""
    return _doc(
        row,
        {
            "asset": row["asset"],
            "amount": Money(int(row["amount_minor"]), ASSETS[row["asset"]]).amount_str(),
            "fiat_amount": Money(int(row["fiat_minor"]), ASSETS[row["fiat_currency"]]).amount_str(),
        },
    )


def doc_v2(row: Row) -> dict[str, Any]:
    """Amounts in minor units; the payment method and what was refunded."""
    return _doc(
        row,
        {
            "method": row["method"],
            "asset": row["asset"],
            "amount_minor": row["amount_minor"],
            "fiat_minor": int(row["fiat_minor"]),
            "refunded_minor": row["refunded_minor"],
        },
    )


REFUND_KINDS: dict[str, frozenset[str]] = {
    "BTC": frozenset({"bitcoin"}),
    "BTC-LN": frozenset({"bolt11", "lnurl", "bitcoin"}),
    "ETH": frozenset({"ethereum"}),
    "USDC": frozenset({"ethereum"}),
    "USDT": frozenset({"ethereum"}),
    "SOL": frozenset({"solana_transfer"}),
}
KIND_NAMES = {
    "bitcoin": "a bitcoin address",
    "bolt11": "a Lightning invoice",
    "lnurl": "an LNURL",
    "ethereum": "an Ethereum address",
    "solana_transfer": "a Solana address",
}


def check_refund_address(asset: str, to: str, *, now: float) -> str:
    """The address a refund of ``asset`` goes to, checked (checksums, network); 422 otherwise.

    ``to`` may be a bare address or the customer's receive URI (``bitcoin:...``).
    """
    try:
        parsed = parse_payload(to.strip(), now=now)
    except PayloadError as exc:
        raise ProblemError(422, "invalid-address", "Invalid refund address", exc.message) from None
    wanted = REFUND_KINDS.get(asset, frozenset())
    if parsed.kind not in wanted:
        names = " or ".join(KIND_NAMES[k] for k in sorted(wanted))
        got = KIND_NAMES.get(parsed.kind, parsed.kind)
        raise ProblemError(
            422,
            "invalid-address",
            "Wrong kind of refund address",
            f"{asset} refunds go to {names}, not {got}",
        )
    info = parsed.to_json()
    if parsed.kind == "bitcoin" and info.get("network") != "mainnet":
        raise ProblemError(
            422,
            "invalid-address",
            "Refund address on the wrong network",
            f"this is a {info.get('network')} address; this terminal refunds on mainnet",
        )
    address = info.get("address")
    return str(address) if address else to.strip()

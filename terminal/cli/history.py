"""``cryptopos history``: the journal's sales, newest last, filtered by time and status; each sale
with the refunds made of it (any state), so a refund is seen beside the payment it returns."""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from terminal.cli.common import EXIT_OK, CliError, load

if TYPE_CHECKING:
    from terminal.journal import RefundRecord, SaleRecord

STATES = (
    "amount_entered",
    "awaiting_payment",
    "submitting",
    "unknown_outcome",
    "offline_queued",
    "forwarding",
    "approved",
    "declined",
    "expired",
    "cancelled",
    "failed",
)
_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--since",
        help="YYYY-MM-DD (that business day's start), an ISO date-time ([merchant] timezone unless it "
        "says), or 30m / 2h / 7d",
    )
    p.add_argument("--status", help=f"comma-separated states: {', '.join(STATES)}")
    p.add_argument("--limit", type=int, default=200, help="show at most this many (the newest)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--json", action="store_true", help="print a JSON array")


def parse_since(text: str, *, now: float, zone: tzinfo = UTC) -> float:
    """The instant ``--since`` names: a date is the start of that business day in ``zone`` (the
    merchant's), a date-time without an offset is a wall-clock time there."""
    from terminal.domain.zreport import DayWindow

    m = _RELATIVE.match(text.strip())
    if m:
        return now - int(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]
    raw = text.strip().replace("Z", "+00:00")
    try:
        if _DATE.match(raw):
            return DayWindow.zoned(date.fromisoformat(raw), zone).start
        dt = datetime.fromisoformat(raw)
    except ValueError:
        raise CliError(
            f"--since {text!r} is not a date (YYYY-MM-DD), a date-time, or like 30m, 2h, 7d"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.timestamp()


def parse_states(text: str) -> tuple[str, ...]:
    wanted = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    bad = [s for s in wanted if s not in STATES]
    if bad or not wanted:
        raise CliError(f"unknown status {', '.join(bad) or '(empty)'}; known: {', '.join(STATES)}")
    return wanted


def refund_json(r: RefundRecord, zone: tzinfo = UTC) -> dict[str, Any]:
    from terminal.domain.money import Money, asset

    amount = Money(r.amount_minor, asset(r.asset))
    return {
        "status": r.state,
        "created_at": datetime.fromtimestamp(r.created_at, zone).isoformat(timespec="seconds"),
        "crypto": {"amount": amount.amount_str(), "minor": str(amount.minor)},
        "asset": r.asset,
        "to": r.to_address,
        "refund_id": r.refund_id,
        "reason": r.detail,
    }


def sale_json(s: SaleRecord, refunds: list[RefundRecord] | None = None, zone: tzinfo = UTC) -> dict[str, Any]:
    from terminal.domain.money import Money, asset

    fiat = Money(s.fiat_minor, asset(s.fiat_currency))
    crypto = None if s.crypto_minor is None else Money(s.crypto_minor, asset(s.asset))
    return {
        "reference": s.reference,
        "status": s.state,
        # in the merchant's time zone, with its offset: the business day is read off it
        "created_at": datetime.fromtimestamp(s.created_at, zone).isoformat(timespec="seconds"),
        "fiat": {"amount": fiat.amount_str(), "minor": fiat.minor, "currency": fiat.asset.code},
        "asset": s.asset,
        "crypto": None if crypto is None else {"amount": crypto.amount_str(), "minor": str(crypto.minor)},
        "payment_id": s.payment_id,
        "reason": s.reason,
        "offline": bool(s.offline),
        "idempotency_key": s.idempotency_key,
        "refunds": [refund_json(r, zone) for r in refunds or []],
    }


def run(args: argparse.Namespace) -> int:
    from terminal.domain.money import MoneyError
    from terminal.journal import Journal

    overrides = {"journal.path": (args.journal, "--journal")}
    settings = load(args, overrides).settings
    zone = settings.merchant.zone()
    since = parse_since(args.since, now=time.time(), zone=zone) if args.since else None
    states = parse_states(args.status) if args.status else None
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; no sale was taken with this configuration")
    journal = Journal(settings.journal.path)
    try:
        sales = journal.sales(states=states, since=since)[-args.limit :]
        refunds: dict[str, list[RefundRecord]] = {}
        for refund in journal.refunds():
            refunds.setdefault(refund.payment_id, []).append(refund)
    finally:
        journal.close()
    try:
        rows = [sale_json(s, refunds.get(s.payment_id or ""), zone) for s in sales]
    except MoneyError as exc:
        raise CliError(f"the journal holds an amount this version cannot read: {exc}") from None
    if args.json:
        print(json.dumps(rows))
        return EXIT_OK
    if not rows:
        print("no sales")
        return EXIT_OK
    for r in rows:
        crypto = f"{r['crypto']['amount']} {r['asset']}" if r["crypto"] else f"- {r['asset']}"
        extra = " ".join(
            x for x in (r["payment_id"] or "", r["reason"] or "", "offline" if r["offline"] else "") if x
        )
        print(
            f"{r['created_at']}  {r['status']:<16} {r['fiat']['amount']:>10} {r['fiat']['currency']}  "
            f"{crypto:<28} {r['reference']}  {extra}".rstrip()
        )
        for f in r["refunds"]:
            print(
                f"{f['created_at']}    refund {f['status']:<9} {'':>14}  "
                f"{f['crypto']['amount'] + ' ' + f['asset']:<28} to {f['to']}  "
                f"{f['refund_id'] or f['reason'] or ''}".rstrip()
            )
    return EXIT_OK

"""``cryptopos report``: the daily Z-report from the journal (UTC days).

Counts and totals per status and asset, refunds, and the offline queue as it stands now.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from terminal.cli.common import EXIT_FAILED, EXIT_OK, PARENT, CliError, load
from terminal.domain.money import Money, asset
from terminal.journal import Journal


def register(sub: Any) -> None:
    p = sub.add_parser("report", parents=[PARENT], help="the daily Z-report: totals per asset and status")
    p.add_argument("--day", help="YYYY-MM-DD (UTC; default: today)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--print", action="store_true", help="also print it on the receipt printer")
    p.add_argument("--printer", metavar="DEVICE", help="the printer for --print (default: [printer] device)")
    p.set_defaults(func=run)


def z_report(journal: Journal, day: date) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    end = start + timedelta(days=1).total_seconds()
    by_status: dict[str, dict[str, Any]] = {}
    fiat_tot: dict[tuple[str, str], int] = defaultdict(int)
    crypto_tot: dict[tuple[str, str], int] = defaultdict(int)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for s in journal.sales(since=start, until=end):
        counts[(s.state, s.asset)] += 1
        fiat_tot[(s.state, s.fiat_currency)] += s.fiat_minor
        if s.crypto_minor is not None:
            crypto_tot[(s.state, s.asset)] += s.crypto_minor
    for (state, code), n in sorted(counts.items()):
        entry = by_status.setdefault(state, {"count": 0, "fiat": {}, "crypto": {}})
        entry["count"] += n
        # no amount for sales that never got a quote (cancelled, queued offline)
        entry["crypto"].setdefault(code, {"count": 0, "amount": None, "minor": None})["count"] = n
    for (state, code), minor in fiat_tot.items():
        by_status[state]["fiat"][code] = Money(minor, asset(code)).amount_str()
    for (state, code), minor in crypto_tot.items():
        by_status[state]["crypto"][code].update(
            amount=Money(minor, asset(code)).amount_str(), minor=str(minor)
        )
    refunds: dict[str, dict[str, Any]] = {}
    for r in journal.refunds(since=start, until=end):
        e = refunds.setdefault(f"{r.state}/{r.asset}", {"count": 0, "minor": 0})
        e["count"] += 1
        e["minor"] += r.amount_minor
    refunds_out = {
        k: {"count": v["count"], "amount": Money(v["minor"], asset(k.split("/", 1)[1])).amount_str()}
        for k, v in refunds.items()
    }
    queue = journal.offline_queue()
    queue_tot: dict[str, int] = defaultdict(int)
    for s in queue:
        queue_tot[s.fiat_currency] += s.fiat_minor
    return {
        "day": day.isoformat(),
        "sales": by_status,
        "refunds": refunds_out,
        "offline_queue": {
            "count": len(queue),
            "fiat": {c: Money(m, asset(c)).amount_str() for c, m in queue_tot.items()},
        },
        "open": len(journal.unsettled()) - len(queue),
    }


def run(args: argparse.Namespace) -> int:
    settings = load(args, {"journal.path": (args.journal, "--journal")}).settings
    try:
        day = date.fromisoformat(args.day) if args.day else datetime.now(UTC).date()
    except ValueError:
        raise CliError(f"--day {args.day!r} is not a date; use YYYY-MM-DD") from None
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; no sale was taken with this configuration")
    journal = Journal(settings.journal.path)
    try:
        rep = z_report(journal, day)
    finally:
        journal.close()
    if args.json:
        print(json.dumps(rep))
    else:
        show(rep)
    if args.print or args.printer:
        from terminal.printing import PrintFailedError, print_report

        try:
            result = print_report(rep, settings, device=args.printer)
        except PrintFailedError as exc:
            print(f"cryptopos: {exc.title}: {exc.message}\n  → {exc.hint}", file=sys.stderr)
            return EXIT_FAILED
        print(f"cryptopos: printed the Z-report on {result.device}", file=sys.stderr)
    return EXIT_OK


def show(rep: dict[str, Any]) -> None:
    print(f"Z-report {rep['day']} (UTC)")
    if not rep["sales"]:
        print("  no sales")
    for state, e in rep["sales"].items():
        fiat = ", ".join(f"{v} {k}" for k, v in e["fiat"].items())
        print(f"  {state:<16} {e['count']:>5}  {fiat}")
        for code, c in e["crypto"].items():
            amount = f"{c['amount']} {code}" if c["amount"] is not None else "(no quote)"
            print(f"      {code:<8} {c['count']:>5}  {amount}")
    print(
        "  refunds: "
        + (", ".join(f"{k} x{v['count']} {v['amount']}" for k, v in rep["refunds"].items()) or "none")
    )
    q = rep["offline_queue"]
    fiat = ", ".join(f"{v} {k}" for k, v in q["fiat"].items())
    print(f"  offline queue: {q['count']} waiting" + (f", {fiat}" if fiat else ""))
    if rep["open"]:
        print(f"  open sales: {rep['open']} (run `cryptopos reconcile`)")

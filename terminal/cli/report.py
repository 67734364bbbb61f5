"""``cryptopos report``: the daily Z-report from the journal, for a business day in the
merchant's time zone (``[merchant] timezone``), amounts in its locale (``[merchant] locale``).

Counts and totals per status and asset, tips, refunds, the offline queue as it stands now, and
each staff member's part (approved sales and takings, refunds asked for and approved):
:mod:`terminal.domain.zreport`, the same report the TUI shows and the printer prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date

from terminal.cli.common import EXIT_FAILED, EXIT_OK, CliError, load


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--day", help="YYYY-MM-DD, in [merchant] timezone (default: today there)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--print", action="store_true", help="also print it on the receipt printer")
    p.add_argument("--printer", metavar="DEVICE", help="the printer for --print (default: [printer] device)")


def run(args: argparse.Namespace) -> int:
    from terminal.display import money_format
    from terminal.journal import Journal
    from terminal.reporting import business_day, read_z_report

    settings = load(args, {"journal.path": (args.journal, "--journal")}).settings
    try:
        day = date.fromisoformat(args.day) if args.day else None
    except ValueError:
        raise CliError(f"--day {args.day!r} is not a date; use YYYY-MM-DD") from None
    window = business_day(settings, day=day, now=time.time())
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; no sale was taken with this configuration")
    journal = Journal(settings.journal.path)
    try:
        rep = read_z_report(journal, window)
    finally:
        journal.close()
    if args.json:
        print(json.dumps(rep.to_json()))
    else:
        print("\n".join(rep.lines(money=money_format(settings.merchant.locale))))
    if args.print or args.printer:
        from terminal.printing import PrintFailedError, print_report

        try:
            result = print_report(rep, settings, device=args.printer)
        except PrintFailedError as exc:
            print(f"cryptopos: {exc.title}: {exc.message}\n  → {exc.hint}", file=sys.stderr)
            return EXIT_FAILED
        print(f"cryptopos: printed the Z-report on {result.device}", file=sys.stderr)
    return EXIT_OK

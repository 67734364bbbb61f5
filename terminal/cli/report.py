"""``cryptopos report``: the daily Z-report from the journal (UTC days).

Counts and totals per status and asset, tips, refunds, and the offline queue as it stands now:
:mod:`terminal.domain.zreport`, the same report the TUI shows and the printer prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime

from terminal.cli.common import EXIT_FAILED, EXIT_OK, CliError, load


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--day", help="YYYY-MM-DD (UTC; default: today)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--print", action="store_true", help="also print it on the receipt printer")
    p.add_argument("--printer", metavar="DEVICE", help="the printer for --print (default: [printer] device)")


def run(args: argparse.Namespace) -> int:
    from terminal.domain.zreport import DayWindow
    from terminal.journal import Journal
    from terminal.reporting import read_z_report

    settings = load(args, {"journal.path": (args.journal, "--journal")}).settings
    try:
        day = date.fromisoformat(args.day) if args.day else datetime.now(UTC).date()
    except ValueError:
        raise CliError(f"--day {args.day!r} is not a date; use YYYY-MM-DD") from None
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; no sale was taken with this configuration")
    journal = Journal(settings.journal.path)
    try:
        rep = read_z_report(journal, DayWindow.utc(day))
    finally:
        journal.close()
    if args.json:
        print(json.dumps(rep.to_json()))
    else:
        print("\n".join(rep.lines()))
    if args.print or args.printer:
        from terminal.printing import PrintFailedError, print_report

        try:
            result = print_report(rep, settings, device=args.printer)
        except PrintFailedError as exc:
            print(f"cryptopos: {exc.title}: {exc.message}\n  → {exc.hint}", file=sys.stderr)
            return EXIT_FAILED
        print(f"cryptopos: printed the Z-report on {result.device}", file=sys.stderr)
    return EXIT_OK

"""``cryptopos audit``: the till's audit trail (append-only), oldest first: every sale and refund
with who took it and who approved it, every sign-in, wrong PIN, lockout, approval and setting
change, and roster changes. Never a PIN, a PIN hash or a key."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from terminal.cli.common import EXIT_OK, CliError, load
from terminal.cli.history import parse_since

if TYPE_CHECKING:
    from terminal.journal import AuditRecord


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="YYYY-MM-DD, an ISO date-time (UTC unless it says), or 30m / 2h / 7d")
    p.add_argument("--staff", metavar="STAFF_ID", help="only what this person did or approved")
    p.add_argument("--journal", help="the till's database (default: journal.path)")
    p.add_argument("--json", action="store_true", help="print a JSON array")


def audit_json(r: AuditRecord) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "at": datetime.fromtimestamp(r.at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "event": r.event,
        "staff_id": r.staff_id,
        "approver_id": r.approver_id,
        "subject": r.subject,
        "detail": r.detail,
    }


def run(args: argparse.Namespace) -> int:
    from terminal.journal import Journal
    from terminal.staff.rules import StaffRuleError, check_staff_id

    settings = load(args, {"journal.path": (args.journal, "--journal")}).settings
    since = parse_since(args.since, now=time.time()) if args.since else None
    if args.staff is not None:
        try:
            check_staff_id(args.staff)
        except StaffRuleError as exc:
            raise CliError(f"--staff: {exc}") from None
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; nothing happened with this configuration")
    journal = Journal(settings.journal.path)
    try:
        rows = [audit_json(r) for r in journal.audit_trail(since=since, staff_id=args.staff)]
    finally:
        journal.close()
    if args.json:
        print(json.dumps(rows))
        return EXIT_OK
    if not rows:
        print(
            "nothing in the audit trail"
            + (" for that person" if args.staff else "")
            + (" since then" if since else "")
        )
    for r in rows:
        who = r["staff_id"] or "-"
        if r["approver_id"]:
            who += f" (approved by {r['approver_id']})"
        what = " ".join(x for x in (r["subject"], r["detail"]) if x)
        print(f"{r['at']}  {r['event']:<16} {who:<34} {what}".rstrip())
    return EXIT_OK

"""``cryptopos demo``: a short scripted headless run of a few payments on the embedded default.

What ``make demo`` shows where there is no terminal for the TUI (CI, a pipe): simulated
readers, the in-process backend, a journal in a temporary folder, one summary per payment.
All sales share one client and so one embedded backend, as a till's day would.

Staff as on a real till: the demo cashier (on the till) and the demo manager (on the embedded
backend) get fresh PINs, printed first; the cashier signs in and takes the sales, and the first
sale is refunded with the manager's approval. The audit trail ends the run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from terminal.cli.common import EXIT_FAILED, EXIT_OK, load
from terminal.cli.pay import human_summary, notice_recorder

if TYPE_CHECKING:
    from terminal.client import BackendClient
    from terminal.config import Settings
    from terminal.journal import Journal
    from terminal.staff.demo import DemoStaff
    from terminal.staff.desk import StaffDesk

# a customer's receive address for the demo refund (BIP173's example; owned by nobody we know)
DEMO_REFUND_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"

# (fiat amount, asset, reader, what it shows, the status it should end in)
SCRIPT = [
    ("12.50", "BTC", "sim:nfc", "a tap of the demo card", "approved"),
    ("4.20", "BTC-LN", "sim:qr", "a QR shown to the camera", "approved"),
    (
        "99.99",
        "ETH",
        "sim:nfc?payload=cryptopos-test:card:decline",
        "a card the backend declines",
        "declined",
    ),
    ("7.00", "SOL", "sim:nfc", "another tap", "approved"),
]


def arguments(p: argparse.ArgumentParser) -> None:
    pass  # no arguments but --config


def run(args: argparse.Namespace) -> int:
    import asyncio

    with tempfile.TemporaryDirectory(prefix="cryptopos-demo-") as tmp:
        loaded = load(
            args,
            {
                "backend.url": ("embedded", "demo"),
                "journal.path": (str(Path(tmp) / "journal.sqlite3"), "demo"),
            },
        )
        settings = loaded.settings
        print(
            f"cryptopos demo: {settings.merchant.name}, terminal {settings.terminal.id}, embedded backend\n"
        )
        surprises = asyncio.run(play(settings))
    # the script says how each sale should end; a demo that silently went wrong is a failed demo
    return EXIT_FAILED if surprises else EXIT_OK


async def play(settings: Settings) -> int:
    """Run the script; return how many sales did not end as the script expects."""
    from terminal.client.factory import client_from_settings
    from terminal.domain.money import Money, asset
    from terminal.journal import Journal
    from terminal.sale import SaleRunner, offline_policy
    from terminal.staff.demo import DemoStaff
    from terminal.staff.desk import StaffDesk

    journal = Journal(settings.journal.path)
    surprises = 0
    staff = DemoStaff()
    print(f"{staff.hint()}\n")
    try:
        async with client_from_settings(settings, on_notice=notice_recorder(journal)) as client:
            staff.add_cashier(journal)
            desk = StaffDesk(journal)
            await desk.sign_in(staff.cashier_id, staff.cashier_pin)
            print(f"-- {staff.cashier_name} signed in")
            manager = await _manager(client, desk, staff)
            first: str | None = None
            for amount_text, code, reader, what, expected in SCRIPT:
                runner = SaleRunner(
                    client=client,
                    journal=journal,
                    terminal_id=settings.terminal.id,
                    readers=[reader],
                    payment_wait_s=settings.timeouts.payment_wait_s,
                    offline=offline_policy(settings),
                )
                print(f"-- {what} ({reader})")
                report = await runner.run(
                    Money.parse(amount_text, settings.terminal.fiat_currency), asset(code)
                )
                print(human_summary(report) + "\n")
                surprises += report.status != expected
                first = first or report.payment_id
            surprises += await _refund(client, journal, first, manager, staff)
            _print_audit(journal)
    finally:
        journal.close()
    return surprises


async def _manager(client: BackendClient, desk: StaffDesk, staff: DemoStaff) -> bool:
    """Create the demo manager on the embedded backend and learn it; False when the backend
    keeps no staff (then the refund step says so)."""
    from terminal.client import BackendError
    from terminal.staff.demo import DemoStaffError

    try:
        await staff.add_manager(client)
        await desk.sync(client)
    except (DemoStaffError, BackendError) as exc:
        print(f"-- no demo manager: {exc}")
        return False
    print(f"-- {staff.manager_name} (manager) created on the embedded backend\n")
    return True


async def _refund(
    client: BackendClient, journal: Journal, payment_id: str | None, manager: bool, staff: DemoStaff
) -> int:
    """Refund the first sale with the demo manager's approval; 1 when it did not complete."""
    from terminal.cli.refund import plan_refund, send_refund
    from terminal.client import Approval

    print(f"-- a refund of the first sale, approved by {staff.manager_name}")
    if payment_id is None:
        print("   not made: no sale was approved\n")
        return 1
    if not manager:
        # a backend without the staff endpoints (an older one): the sales still ran end to end
        print("   not made: this backend keeps no staff, so no manager can approve it\n")
        return 0
    planned = plan_refund(journal, payment_id, None, DEMO_REFUND_ADDRESS, approval_from=staff.manager_id)
    approval = Approval(staff.manager_id, staff.manager_pin)
    _, out = await send_refund(client, journal, planned, approval=approval)
    why = f": {out['reason']}" if out.get("reason") else ""
    print(f"   {out['status'].upper()} refund to {out['to']}{why}")
    print(f"   asked by {out.get('requested_by')}, approved by {out.get('approved_by')}\n")
    return 0 if out["status"] == "completed" else 1


def _print_audit(journal: Journal) -> None:
    from terminal.cli.audit import audit_json

    print("-- the audit trail (cryptopos audit)")
    for r in (audit_json(row) for row in journal.audit_trail()):
        who = (r["staff_id"] or "-") + (f" approved by {r['approver_id']}" if r["approver_id"] else "")
        print(f"   {r['at'][11:19]} {r['event']:<16} {who:<40} {r['subject'] or ''}".rstrip())

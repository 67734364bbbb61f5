"""``cryptopos refund PAYMENT_ID``: refund (part of) an approved payment to the customer's address.

Every refund needs a manager's approval at that moment: the manager (``--approver STAFF_ID``, or
the till's only manager) types their PIN, asked with getpass on a terminal, or given in a file
only its owner can read (``--approve-with FILE``, for scripts). The PIN goes inside the signed
refund request and the backend checks it; it is never journaled or printed.

The destination is ``--to`` or, without it, the first code scanned by the terminal's QR reader.
It is validated for the payment's asset before anything is sent. The refund is journaled before
the network call, with an idempotency key derived from the payment, amount, destination and the
number of refunds already settled, so running the same refund again after a crash or an unknown
outcome re-sends the same request and is never paid twice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import queue
from typing import TYPE_CHECKING, Any

from terminal.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, CliError, load
from terminal.cli.pay import notice_recorder

if TYPE_CHECKING:
    from terminal.client import Approval, BackendClient
    from terminal.config import Settings
    from terminal.journal import Journal, RefundRecord
    from terminal.staff.desk import StaffDesk

SETTLED = ("pending", "approved", "completed", "sent", "failed", "rejected")


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("payment_id")
    p.add_argument("--amount", help="crypto amount in the payment's asset (default: what is left to refund)")
    p.add_argument("--to", help="the customer's address or payment URI (default: scan it with the QR reader)")
    p.add_argument("--backend", help="'embedded' or the backend's URL (default: backend.url)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--scan-timeout", type=float, default=60.0, help="seconds to wait for the scan")
    p.add_argument(
        "--approver",
        metavar="STAFF_ID",
        help="the manager who approves it (default: the till's only manager)",
    )
    p.add_argument(
        "--approve-with",
        metavar="FILE",
        help="a file holding the manager's PIN, readable by its owner only (default: asked on the terminal)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def refund_key(payment_id: str, amount_minor: int, to: str, ordinal: int) -> str:
    return hashlib.sha256(
        f"cryptopos-refund|{payment_id}|{amount_minor}|{to}|{ordinal}".encode()
    ).hexdigest()[:32]


def scan_destination(settings: Settings, timeout_s: float) -> str:
    """The first code the terminal's QR readers see."""
    from drivers import CodeScanned, open_reader
    from drivers.registry import DriverError

    devices = [d for d in settings.terminal.readers if d.startswith(("camera:", "sim:qr"))]
    if not devices:
        raise CliError("no QR reader configured to scan the customer's address; give it with --to")
    found: queue.Queue[str] = queue.Queue()

    def sink(event: object) -> None:
        if isinstance(event, CodeScanned):
            found.put(event.payload)

    readers = []
    try:
        for d in devices:
            r = open_reader(d)
            r.start(sink)
            readers.append(r)
        return found.get(timeout=timeout_s)
    except queue.Empty:
        raise CliError(f"no code scanned within {timeout_s:.0f} s; give the address with --to") from None
    except DriverError as exc:
        raise CliError(str(exc)) from None
    finally:
        for r in readers:
            r.stop()


def check_refund(journal: Journal, payment_id: str, amount_text: str | None, to_text: str) -> RefundRecord:
    """Validate everything: the refund as it would be journaled (an open one, to send again with
    its key, or a new one in state ``planned``). Nothing is written."""
    from terminal.addresses import AddressError, refund_destination
    from terminal.domain.money import Money, MoneyError, asset
    from terminal.journal import RefundRecord

    sale = journal.by_payment_id(payment_id)
    if sale is None:
        raise CliError(f"payment {payment_id} is not in this terminal's journal")
    if sale.state != "approved" or sale.crypto_minor is None:
        raise CliError(f"payment {payment_id} is {sale.state}; only an approved payment can be refunded")
    crypto = asset(sale.asset)
    try:
        to = refund_destination(to_text, crypto)
    except AddressError as exc:
        raise CliError(f"refund address refused: {exc}") from None
    earlier = journal.refunds(payment_id=payment_id)
    if amount_text is None:
        # "run the refund again" after a lost answer: the open refund to this address is that
        # refund (its amount is already counted as done, so "what is left" would be nothing)
        reopen = [r for r in earlier if r.state in ("submitting", "unknown_outcome") and r.to_address == to]
        if reopen:
            return reopen[0]
    done = sum(r.amount_minor for r in earlier if r.state not in ("failed", "rejected"))
    left = sale.crypto_minor - done
    try:
        amount = Money.parse(amount_text, crypto) if amount_text else Money(left, crypto)
    except MoneyError as exc:
        raise CliError(f"--amount: {exc}") from None
    if amount.minor <= 0:
        raise CliError(f"nothing left to refund on {payment_id}")
    open_same = [
        r
        for r in earlier
        if r.state in ("submitting", "unknown_outcome")
        and r.amount_minor == amount.minor
        and r.to_address == to
    ]
    if not open_same and amount.minor > left:
        raise CliError(
            f"at most {Money(left, crypto).format(trim=True)} is left to refund on {payment_id}; "
            f"asked {amount.format(trim=True)}"
        )
    if open_same:
        return open_same[0]  # the same refund again: same key, the backend answers once
    ordinal = sum(1 for r in earlier if r.state not in ("submitting", "unknown_outcome"))
    return RefundRecord(
        idempotency_key=refund_key(payment_id, amount.minor, to, ordinal),
        payment_id=payment_id,
        reference=sale.reference,
        amount_minor=amount.minor,
        asset=crypto.code,
        to_address=to,
        state="planned",
        refund_id=None,
        detail=None,
        created_at=0.0,
        updated_at=0.0,
    )


def plan_refund(
    journal: Journal,
    payment_id: str,
    amount_text: str | None,
    to_text: str,
    *,
    approval_from: str | None = None,
) -> RefundRecord:
    """Validate everything and journal the refund; nothing is sent yet. ``approval_from``: the
    manager whose approval goes with this attempt."""
    r = check_refund(journal, payment_id, amount_text, to_text)
    return journal.open_refund(
        idempotency_key=r.idempotency_key,
        payment_id=r.payment_id,
        reference=r.reference,
        amount_minor=r.amount_minor,
        asset=r.asset,
        to=r.to_address,
        approval_from=approval_from,
    )


def pick_approver(desk: StaffDesk, given: str | None) -> str:
    """The approving manager: ``--approver``, or the only manager this till knows."""
    from terminal.staff.desk import StaffError
    from terminal.staff.rules import StaffRuleError, check_staff_id

    if given is not None:
        try:
            staff_id = check_staff_id(given)
            desk.check_approver(staff_id)
        except StaffRuleError as exc:
            raise CliError(f"--approver: {exc}") from None
        except StaffError as exc:
            raise CliError(f"--approver {given}: {exc.title}: {exc.message}") from None
        return staff_id
    managers = desk.managers()
    if len(managers) == 1:
        return managers[0].staff_id
    if not managers:
        raise CliError(
            "a refund needs a manager's approval and this till knows no manager: `cryptopos staff sync`,"
            " or name one with --approver STAFF_ID"
        )
    raise CliError(
        "a refund needs a manager's approval: say whose with --approver (one of "
        + ", ".join(m.staff_id for m in managers)
        + ")"
    )


async def send_refund(
    client: BackendClient,
    journal: Journal,
    r: RefundRecord,
    *,
    resend: bool = False,
    approval: Approval | None = None,
) -> tuple[int, dict[str, Any]]:
    """``resend``: this refund was journaled (and maybe sent) by an earlier run, so a refusal now
    says nothing about that earlier attempt: it stays open with its key, never ``failed``.
    ``approval``: the manager's id and PIN, sent inside the signed request and checked by the
    backend; a refused approval pays nothing (exit 1) and may be sent again with the right PIN."""
    from terminal.client import (
        ApprovalRefusedError,
        BackendError,
        BackendUnavailableError,
        OutcomeUnknownError,
        UnsupportedError,
    )
    from terminal.staff.desk import StaffDesk

    out: dict[str, Any] = {
        "payment_id": r.payment_id,
        "amount_minor": str(r.amount_minor),
        "asset": r.asset,
        "to": r.to_address,
    }
    desk = StaffDesk(journal)
    try:
        result = await client.refund(
            payment_id=r.payment_id,
            amount_minor=r.amount_minor,
            to=r.to_address,
            idempotency_key=r.idempotency_key,
            staff_id=r.staff_id,
            approval=approval,
        )
    except ApprovalRefusedError as exc:
        journal.update_refund(r.idempotency_key, "unknown_outcome" if resend else "failed", detail=exc.title)
        approver = approval.staff_id if approval is not None else "-"
        why = desk.refund_approval_refused(
            approver, exc.type, exc.retry_after_s, subject=f"refund of {r.payment_id}"
        )
        reason = f"{why.title}: {why.message}" + (f" ({why.hint})" if why.hint else "")
        return EXIT_FAILED, {**out, "status": "refused", "reason": reason}
    except (OutcomeUnknownError, BackendUnavailableError) as exc:
        state = "unknown_outcome" if isinstance(exc, OutcomeUnknownError) else "submitting"
        if resend:
            state = "unknown_outcome"  # the earlier attempt may have gone through
        journal.update_refund(r.idempotency_key, state, detail=exc.message)
        return EXIT_UNKNOWN, {
            **out,
            "status": "unknown",
            "reason": f"{exc.title}: {exc.message}; run the refund again",
        }
    except BackendError as exc:
        if resend:
            journal.update_refund(r.idempotency_key, "unknown_outcome", detail=exc.message)
            return EXIT_UNKNOWN, {
                **out,
                "status": "unknown",
                "reason": f"{exc.title}: {exc.message}; an earlier attempt may have been paid out, "
                "so it stays open: run the refund again or `cryptopos reconcile`",
            }
        journal.update_refund(r.idempotency_key, "failed", detail=exc.message)
        if isinstance(exc, UnsupportedError):
            return EXIT_USAGE, {**out, "status": "failed", "reason": f"{exc.title}: {exc.message}"}
        return EXIT_FAILED, {**out, "status": "failed", "reason": f"{exc.title}: {exc.message}"}
    journal.update_refund(
        r.idempotency_key, result.status, refund_id=result.refund_id, approved_by=result.approved_by
    )
    if result.approved_by is not None:
        desk.refund_approved(result.approved_by, subject=f"refund {result.refund_id}")
    return EXIT_OK, {
        **out,
        "status": result.status,
        "refund_id": result.refund_id,
        "requested_by": result.requested_by,
        "approved_by": result.approved_by,
    }


def run(args: argparse.Namespace) -> int:
    import asyncio

    from terminal.cli.pinentry import read_pin
    from terminal.client import Approval
    from terminal.client.factory import client_from_settings
    from terminal.domain.money import Money, asset
    from terminal.journal import Journal
    from terminal.staff.desk import StaffDesk

    settings = load(
        args, {"backend.url": (args.backend, "--backend"), "journal.path": (args.journal, "--journal")}
    ).settings
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; no sale was taken with this configuration")
    journal = Journal(settings.journal.path)
    try:
        to_text = args.to if args.to is not None else scan_destination(settings, args.scan_timeout)
        check_refund(journal, args.payment_id, args.amount, to_text)  # a bad refund is said first
        desk = StaffDesk(journal)
        approver = pick_approver(desk, args.approver)
        known = journal.staff_member(approver)
        prompt = f"PIN of {known.name if known else approver} ({approver}), approving the refund: "
        # nothing is journaled for a refund nobody approved
        pin = read_pin(args.approve_with, flag="--approve-with", prompt=prompt)
        before = {r.idempotency_key for r in journal.refunds(payment_id=args.payment_id)}
        planned = plan_refund(journal, args.payment_id, args.amount, to_text, approval_from=approver)
        resend = planned.idempotency_key in before

        async def go() -> tuple[int, dict[str, Any]]:
            async with client_from_settings(settings, on_notice=notice_recorder(journal)) as client:
                approval = Approval(approver, pin)
                return await send_refund(client, journal, planned, resend=resend, approval=approval)

        code, out = asyncio.run(go())
    finally:
        journal.close()
    if args.json:
        print(json.dumps(out))
    else:
        amount = Money(int(out["amount_minor"]), asset(out["asset"])).format(trim=True)
        line = f"{out['status'].upper():9} refund of {amount} to {out['to']}"
        if out.get("approved_by"):
            line += f", approved by {out['approved_by']}"
        if out.get("reason"):
            line += f"\n          {out['reason']}"
        print(line)
    return code

"""``cryptopos refund PAYMENT_ID``: refund (part of) an approved payment to the customer's address.

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
    from terminal.client import BackendClient
    from terminal.config import Settings
    from terminal.journal import Journal, RefundRecord

SETTLED = ("pending", "approved", "completed", "sent", "failed", "rejected")


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("payment_id")
    p.add_argument("--amount", help="crypto amount in the payment's asset (default: what is left to refund)")
    p.add_argument("--to", help="the customer's address or payment URI (default: scan it with the QR reader)")
    p.add_argument("--backend", help="'embedded' or the backend's URL (default: backend.url)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--scan-timeout", type=float, default=60.0, help="seconds to wait for the scan")
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


def plan_refund(journal: Journal, payment_id: str, amount_text: str | None, to_text: str) -> RefundRecord:
    """Validate everything and journal the refund; nothing is sent yet."""
    from terminal.addresses import AddressError, refund_destination
    from terminal.domain.money import Money, MoneyError, asset

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
    key = refund_key(payment_id, amount.minor, to, ordinal)
    return journal.open_refund(
        idempotency_key=key,
        payment_id=payment_id,
        reference=sale.reference,
        amount_minor=amount.minor,
        asset=crypto.code,
        to=to,
    )


async def send_refund(
    client: BackendClient, journal: Journal, r: RefundRecord, *, resend: bool = False
) -> tuple[int, dict[str, Any]]:
    """``resend``: this refund was journaled (and maybe sent) by an earlier run, so a refusal now
    says nothing about that earlier attempt: it stays open with its key, never ``failed``."""
    from terminal.client import BackendError, BackendUnavailableError, OutcomeUnknownError, UnsupportedError

    out: dict[str, Any] = {
        "payment_id": r.payment_id,
        "amount_minor": str(r.amount_minor),
        "asset": r.asset,
        "to": r.to_address,
    }
    try:
        result = await client.refund(
            payment_id=r.payment_id,
            amount_minor=r.amount_minor,
            to=r.to_address,
            idempotency_key=r.idempotency_key,
        )
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
    journal.update_refund(r.idempotency_key, result.status, refund_id=result.refund_id)
    return EXIT_OK, {**out, "status": result.status, "refund_id": result.refund_id}


def run(args: argparse.Namespace) -> int:
    import asyncio

    from terminal.client.factory import client_from_settings
    from terminal.domain.money import Money, asset
    from terminal.journal import Journal

    settings = load(
        args, {"backend.url": (args.backend, "--backend"), "journal.path": (args.journal, "--journal")}
    ).settings
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; no sale was taken with this configuration")
    to_text = args.to if args.to is not None else scan_destination(settings, args.scan_timeout)
    journal = Journal(settings.journal.path)
    try:
        before = {r.idempotency_key for r in journal.refunds(payment_id=args.payment_id)}
        planned = plan_refund(journal, args.payment_id, args.amount, to_text)
        resend = planned.idempotency_key in before

        async def go() -> tuple[int, dict[str, Any]]:
            async with client_from_settings(settings, on_notice=notice_recorder(journal)) as client:
                return await send_refund(client, journal, planned, resend=resend)

        code, out = asyncio.run(go())
    finally:
        journal.close()
    if args.json:
        print(json.dumps(out))
    else:
        amount = Money(int(out["amount_minor"]), asset(out["asset"])).format(trim=True)
        line = f"{out['status'].upper():9} refund of {amount} to {out['to']}"
        if out.get("reason"):
            line += f"\n          {out['reason']}"
        print(line)
    return code

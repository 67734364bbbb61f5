"""A refund and the policy the backend itself holds it to (docs/api.md, "Refunds").

In order: the payment must be approved and the amount still refundable; the payment no older
than the policy's window (409 ``refund-window-closed``); above the approval threshold of its
currency (every refund where the currency has none), a manager's approval (403
``approval-required``), whose PIN the ledger checks (403 ``approval-invalid`` /
``approver-locked``, one lockout counter with ``/staff/verify``); an approval sent though none is
needed is checked all the same, and recorded. Then this terminal's refunds today (the business
day of the policy's time zone) plus this one must stay within its daily limit (409
``refund-limit-reached``); the terminal's refunds take turns from reading that total to the
commit, so two at once cannot both fit in what is left.

A refund's fiat value is ``ceil(payment.fiat_minor * refund.amount_minor / payment.amount_minor)``:
partial refunds are never valued below their share.
"""

from __future__ import annotations

from typing import Any

from backend_stub.problems import ProblemError
from backend_stub.services.common import Context, iso, new_id
from backend_stub.services.payments import core
from backend_stub.services.payments.staff import refusal
from backend_stub.store import Row, Store, Tx, staff

DAY_S = 86_400.0


def fiat_value(payment: Row, amount_minor: int) -> int:
    paid = int(payment["amount_minor"])
    return -(-int(payment["fiat_minor"]) * amount_minor // paid)


def refund(
    db: Tx,
    ctx: Context,
    *,
    terminal: str,
    payment_id: str,
    amount: int,
    to: str,
    requested_by: str | None,
    approval: tuple[staff.Checked | staff.Outcome, str] | None,
) -> tuple[int, dict[str, Any]]:
    """The refund's work inside its write transaction. ``approval``: the approver's PIN checked
    outside the transaction (:func:`staff.precheck`) and the PIN itself, to be counted here."""
    p = core.load_payment(db, payment_id, terminal=terminal, lock=True)
    if p["status"] != "approved":
        raise ProblemError(
            409,
            "payment-not-refundable",
            "Only approved payments can be refunded",
            f"payment {payment_id} is {p['status']}",
        )
    left = int(p["amount_minor"]) - int(p["refunded_minor"])
    if amount <= 0:  # the wire type refuses it first; a zero refund is no refund at all
        raise ProblemError(422, "invalid-amount", "Invalid amount", "a refund is at least one minor unit")
    if amount > left:
        raise ProblemError(
            422,
            "refund-exceeds-payment",
            "Refund amount not possible",
            f"between 1 and {left} minor units of {p['asset']} can still be refunded",
            refundable_minor=str(left),
        )
    now = ctx.now()
    policy = ctx.settings.refunds
    paid_at = float(p["created_at"])
    if now - paid_at > policy.window_days * DAY_S:
        raise ProblemError(
            409,
            "refund-window-closed",
            "Too late to refund this payment",
            f"refunds are possible for {policy.window_days} days after the payment",
            window_days=policy.window_days,
            paid_at=iso(paid_at),
        )
    to = core.check_refund_address(p["asset"], to, now=now)
    currency = str(p["fiat_currency"])
    fiat = fiat_value(p, amount)
    threshold = policy.approval_above.get(currency)
    approved_by = None
    if approval is not None:
        checked, pin = approval
        problem = refusal(staff.settle(db, checked, pin, now=now), now=now)
        if problem is not None:
            raise problem  # the wrong-PIN count commits with this answer; the key is released
        approved_by = checked.staff_id if isinstance(checked, staff.Checked) else None
    elif threshold is None or fiat > threshold:
        raise ProblemError(
            403,
            "approval-required",
            "A manager's approval is needed for this refund",
            "send approval {staff_id, pin} of a manager"
            + (f"; refunds above {threshold} minor units of {currency} need one" if threshold else ""),
            threshold_minor=threshold or 0,
            currency=currency,
        )
    limit = policy.daily_limit.get(currency)
    if limit is not None:
        Store.lock_terminal_refunds(db, terminal)
        start, end = policy.day(now)  # the merchant's business day ([refunds] timezone)
        used = Store.refunded_fiat(db, terminal, currency, since=start, until=end)
        if used + fiat > limit:
            raise ProblemError(
                409,
                "refund-limit-reached",
                "This terminal's refunds today would exceed its daily limit",
                f"{used} of {limit} minor units of {currency} refunded today; this one is worth {fiat}",
                limit_minor=limit,
                used_minor=used,
                currency=currency,
            )
    refund_id = new_id("rf")
    db.execute(
        "INSERT INTO refunds (refund_id, payment_id, amount_minor, to_address, status, created_at, "
        "terminal_id, fiat_minor, fiat_currency, requested_by, approved_by) "
        "VALUES (?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?)",
        (refund_id, payment_id, str(amount), to, now, terminal, fiat, currency, requested_by, approved_by),
    )
    db.execute(
        "UPDATE payments SET refunded_minor = ?, updated_at = ? WHERE payment_id = ?",
        (str(int(p["refunded_minor"]) + amount), now, payment_id),
    )
    return 201, {
        "refund_id": refund_id,
        "payment_id": payment_id,
        "amount_minor": str(amount),
        "to": to,
        "status": "completed",
        "created_at": iso(now),
        "requested_by": requested_by,
        "approved_by": approved_by,
    }

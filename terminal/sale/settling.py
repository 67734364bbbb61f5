"""Settling: the backend's answer for a sale is journaled and moves the session; a sale that
`reconcile` in another process settled first ends with the journal's state, calmly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from terminal.client import PaymentResult
from terminal.domain import session as s

if TYPE_CHECKING:
    from terminal.sale.core import SaleCore


def settle(core: SaleCore, result: PaymentResult) -> list[s.Command]:
    """Journal the backend's answer for this sale and move the session."""
    report = core.opened
    reference = report.reference
    report.payment_id = result.payment_id
    how = "settled by a status inquiry" if core.inquired else None
    if core.inquired:
        report.notices.append("The answer was lost; the backend was asked and settled it")
    if result.status == "approved":
        core.journal.update(reference, "approved", payment_id=result.payment_id, detail=how)
        commands = core.session.handle(s.PaymentApproved(result.payment_id))
    elif result.status == "declined":
        reason = result.reason or "declined"
        core.journal.update(reference, "declined", payment_id=result.payment_id, reason=reason, detail=how)
        commands = core.session.handle(s.PaymentDeclined(reason, result.payment_id))
    else:
        core.journal.update(reference, "unknown_outcome", payment_id=result.payment_id, reason=result.status)
        if core.session.state is s.State.UNKNOWN_OUTCOME:
            commands = []  # still pending after asking: reconcile settles it
        else:
            commands = core.session.handle(s.OutcomeUnknown(f"payment is {result.status}"))
    core.settled(result)
    return commands


CLOSED_ELSEWHERE = "the sale was closed elsewhere before it was sent; not charged"


def journal_state(core: SaleCore) -> str:
    """What the journal says the open sale is (a sale gone from it counts as cancelled)."""
    rec = core.journal.get(core.opened.reference)
    return rec.state if rec is not None else "cancelled"


def closed_elsewhere(core: SaleCore) -> list[s.Command]:
    """`reconcile` in another process closed the sale before the payment was sent: never send it."""
    core.outcome = journal_state(core)
    core.opened.reason = CLOSED_ELSEWHERE
    return core.session.handle(s.PaymentDeclined("closed_elsewhere"))


async def settled_elsewhere(core: SaleCore, event: s.Event) -> None:
    """`reconcile` in another process settled the sale first (found by a cancel or the window's
    end): the journal's state is its outcome, shown as such (the session still ends, so nothing
    waits for a tap)."""
    state = journal_state(core)
    core.outcome = state
    core.settled_elsewhere = state
    core.opened.reason = f"the sale was already settled elsewhere (reconcile): it is {state}"
    core.was_settled_elsewhere(state)
    await core.drive(core.session.handle(event))

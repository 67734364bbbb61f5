"""Settling what the journal does not know the end of: ``reconcile`` and offline forwarding.

Run on start and by ``cryptopos reconcile``. For every sale not in a final state:

* never sent (amount entered, quoting, awaiting a tap): nothing can have been charged,
  so it is closed as ``cancelled``;
* sent or maybe sent (``submitting``, ``unknown_outcome``): the backend is asked for the
  payment by the sale's reference. Its answer settles the sale. When it has none and the
  last send is older than ``grace_s`` (no request of the dead process can still be in
  flight), the sale is ``failed``: never charged. The raw payload is not kept for online
  sales, so such a sale is never re-sent from here; the customer taps again;
* refunds whose answer was lost: sent again with their own idempotency key;
* offline queue: forwarded in the order taken, each with its original idempotency key.
  A sale that may have been forwarded before (``forwarding``) is first looked up by
  reference, so a restart mid-forwarding never sends it twice. Forwarding stops at the
  first sale that cannot be settled (backend unreachable, busy, no quote), so the order holds.
  The crypto amount of an offline sale is set by the quote taken when it is forwarded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from terminal.client import (
    BackendError,
    BackendUnavailableError,
    OutcomeUnknownError,
    PaymentResult,
    ProblemError,
    QuoteExpiredError,
)
from terminal.domain.money import Money, asset
from terminal.journal import Journal, SaleRecord

if TYPE_CHECKING:
    from terminal.client import BackendClient

NEVER_SENT = ("amount_entered", "quoting", "awaiting_payment")
MAYBE_SENT = ("submitting", "unknown_outcome")
GRACE_MARGIN_S = 15.0  # clocks, scheduling, a request still inside the backend


@dataclass
class ReconcileReport:
    settled: dict[str, str] = field(default_factory=dict)  # reference -> final state
    forwarded: list[str] = field(default_factory=list)  # references charged from the offline queue
    left: dict[str, str] = field(default_factory=dict)  # reference -> why it is still open

    @property
    def clean(self) -> bool:
        return not self.left


def _settle(journal: Journal, sale: SaleRecord, found: PaymentResult, report: ReconcileReport) -> bool:
    if found.status == "approved":
        journal.update(
            sale.reference, "approved", payment_id=found.payment_id, payload=None, detail="reconciled"
        )
    elif found.status == "declined":
        journal.update(
            sale.reference,
            "declined",
            payment_id=found.payment_id,
            reason=found.reason or "declined",
            payload=None,
            detail="reconciled",
        )
    else:
        report.left[sale.reference] = f"the backend has it as {found.status}"
        return False
    report.settled[sale.reference] = found.status
    return True


async def reconcile(
    *,
    client: BackendClient,
    journal: Journal,
    clock: Callable[[], float] = time.time,
    grace_s: float | None = None,
    idle_s: float = 0.0,
    forward: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ReconcileReport:
    """``grace_s``: how old a send must be before "not on the backend" means "never arrived";
    by default the client's own worst-case send time (its retry settings and timeouts) plus
    ``GRACE_MARGIN_S``, so a sale is never failed while a sender may still be retrying it.
    ``idle_s``: how long a never-sent sale must have been idle before it is closed; 0 when this
    process is the only terminal on the journal (start-up), longer when a running terminal may
    still be waiting for a tap on it. ``progress(done, total)``: told before each open sale and
    after the last."""
    if grace_s is None:
        grace_s = client.send_window_s() + GRACE_MARGIN_S
    report = ReconcileReport()
    unsettled = journal.unsettled()
    for done, sale in enumerate(unsettled):
        if progress is not None:
            progress(done, len(unsettled))
        if sale.state in NEVER_SENT:
            if clock() - sale.updated_at < idle_s:
                report.left[sale.reference] = "waiting for a tap (a terminal may still be running it)"
                continue
            journal.update(sale.reference, "cancelled", detail="interrupted before the payment was sent")
            report.settled[sale.reference] = "cancelled"
        elif sale.state in MAYBE_SENT:
            try:
                found = await client.find_by_reference(sale.reference)
            except BackendError as exc:
                report.left[sale.reference] = f"cannot ask the backend: {exc.message}"
                continue
            if found is not None:
                _settle(journal, sale, found, report)
                continue
            sent_at = sale.submitted_at or sale.updated_at
            if clock() - sent_at < grace_s:
                report.left[sale.reference] = "sent moments ago; the backend may still be working on it"
                continue
            journal.update(
                sale.reference,
                "failed",
                reason="the backend never received it; not charged",
                detail="reconciled",
            )
            report.settled[sale.reference] = "failed"
    if progress is not None and unsettled:
        progress(len(unsettled), len(unsettled))
    await _settle_refunds(client, journal, report)
    if forward:
        await forward_offline(client=client, journal=journal, clock=clock, report=report)
    return report


async def _settle_refunds(client: BackendClient, journal: Journal, report: ReconcileReport) -> None:
    """A refund whose answer was lost is sent again with its own key: the backend answers once."""
    for r in journal.refunds():
        if r.state not in ("submitting", "unknown_outcome"):
            continue
        key = f"refund:{r.idempotency_key}"
        if r.approval_from is not None:
            # it went with a manager's PIN, which is never kept: a resend without it is a different
            # request to the backend. A person refunds it again with a manager's PIN (same key).
            report.left[key] = (
                "refund not settled yet: its answer was lost; refund it again with a manager's PIN"
                " (the same request: it cannot pay out twice)"
            )
            continue
        try:
            result = await client.refund(
                payment_id=r.payment_id,
                amount_minor=r.amount_minor,
                to=r.to_address,
                idempotency_key=r.idempotency_key,
            )
        except BackendError as exc:
            # An earlier attempt may have been paid out, so a refusal of this resend (401, 422,
            # no refunds on this API...) is not "failed": it stays open, with its key, so no new
            # refund of that amount can be made while its fate is unknown.
            report.left[key] = f"refund not settled yet: {exc.message}"
        else:
            journal.update_refund(r.idempotency_key, result.status, refund_id=result.refund_id)
            report.settled[key] = result.status


async def forward_offline(
    *,
    client: BackendClient,
    journal: Journal,
    clock: Callable[[], float] = time.time,
    report: ReconcileReport | None = None,
) -> ReconcileReport:
    """Forward the offline queue in order, each sale exactly once."""
    report = report or ReconcileReport()
    queue = journal.offline_queue()
    for i, sale in enumerate(queue):
        stop = await _forward_one(client, journal, sale, clock, report)
        if stop:
            for rest in queue[i + 1 :]:
                report.left.setdefault(rest.reference, "waiting for the sales before it in the offline queue")
            break
    return report


async def _forward_one(
    client: BackendClient,
    journal: Journal,
    sale: SaleRecord,
    clock: Callable[[], float],
    report: ReconcileReport,
) -> bool:
    """Forward one queued sale; True when forwarding must stop here (order is kept)."""
    ref = sale.reference
    try:
        if sale.state == "forwarding":
            # it may have reached the backend before a crash: ask before sending again
            found = await client.find_by_reference(ref)
            if found is not None:
                if _settle(journal, sale, found, report):
                    report.forwarded.append(ref)
                    return False
                return True
        if sale.payload is None:
            report.left[ref] = "queued without its payload; cannot be forwarded"
            return True
        fiat = Money(sale.fiat_minor, asset(sale.fiat_currency))
        quote = await client.quote(fiat, asset(sale.asset))
        journal.update(
            ref, "forwarding", quote_id=quote.quote_id, crypto_minor=quote.crypto.minor, submitted_at=clock()
        )
        found = await client.create_payment(
            quote=quote, reference=ref, payload=sale.payload, idempotency_key=sale.idempotency_key
        )
    except (BackendUnavailableError, OutcomeUnknownError, QuoteExpiredError) as exc:
        report.left[ref] = f"not forwarded yet: {exc.message}"
        return True
    except ProblemError as exc:
        if exc.status >= 500 or exc.status == 429:
            report.left[ref] = f"not forwarded yet: {exc.message}"
            return True
        if exc.type == "idempotency-key-reused":
            # An earlier forwarding attempt (another quote) left an answer under this key and the
            # backend has no payment for the sale. Never guessed: kept, with its payload, for a person.
            report.left[ref] = "needs attention: the backend holds another request under this sale's key"
            return False
        # the backend refused this payment for good (e.g. a card it declines): not charged
        journal.update(ref, "declined", reason=exc.type or exc.message, payload=None, detail=exc.message)
        report.settled[ref] = "declined"
        return False
    except BackendError as exc:
        report.left[ref] = f"not forwarded yet: {exc.message}"
        return True
    if _settle(journal, sale, found, report):
        report.forwarded.append(ref)
        return False
    return True

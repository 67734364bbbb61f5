"""Submission and inquiry: send a presented payment once (journaled ``submitting`` first), and
when its outcome is unknown ask the backend by reference before anything is sent again."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from terminal.client import (
    BackendError,
    BackendUnavailableError,
    BadAnswerError,
    OutcomeUnknownError,
    ProblemError,
    QuoteExpiredError,
)
from terminal.domain import session as s
from terminal.domain.quote import Quote
from terminal.journal import SaleFinalError, payload_hash
from terminal.sale import guards, offline, settling

if TYPE_CHECKING:
    from terminal.sale.core import SaleCore


async def submit(core: SaleCore, quote: Quote, payload: str, source: str) -> list[s.Command]:
    sess, report = core.session, core.opened
    reference = report.reference
    report.source = source
    core.submitting(source)
    seen = guards.presented(core, payload)
    refusal = guards.refused(core, payload, seen)
    if refusal is not None:
        report.reason = guards.in_words(seen)
        return sess.handle(s.PaymentDeclined(refusal))
    try:
        core.journal.update(
            reference,
            "submitting",
            payload_hash=payload_hash(payload),
            payload_kind=seen.kind,
            submitted_at=core.clock(),
        )
    except SaleFinalError:
        return settling.closed_elsewhere(core)  # never send it
    refusal = guards.remember(core, payload, seen)
    if refusal is not None:
        report.reason = refusal
        return sess.handle(s.PaymentDeclined(refusal))
    elsewhere = await core.paid_elsewhere(payload, source)
    if elsewhere is not None:
        return settling.settle(core, elsewhere)
    t0 = time.perf_counter()

    def unknown(why: str) -> None:
        # the client settles a lost answer itself; the journal still tells that it was lost
        core.inquired = True
        core.journal.update(reference, "unknown_outcome", detail=why)
        core.unknown(why)

    try:
        result = await core.client.create_payment(
            quote=quote,
            reference=reference,
            payload=payload,
            idempotency_key=report.idempotency_key,
            on_unknown=unknown,
        )
    except BackendError as exc:
        report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
        return _not_answered(core, quote, payload, seen.kind, exc)
    report.timings_ms["submit"] = (time.perf_counter() - t0) * 1000
    core.link(up=True)
    return settling.settle(core, result)


def _not_answered(
    core: SaleCore, quote: Quote, payload: str, kind: str, exc: BackendError
) -> list[s.Command]:
    """The client gave no result: journal what is known about the payment and move the session."""
    sess, report = core.session, core.opened
    reference = report.reference
    if isinstance(exc, BackendUnavailableError):
        # nothing reached the backend: not charged
        core.link(up=False, detail=exc.message)
        return offline.queue_unsent(core, quote, payload, kind, exc)
    if isinstance(exc, QuoteExpiredError):
        core.outcome = "expired"
        report.reason = f"{exc.message}; not charged"
        core.journal.update(reference, "expired", reason=report.reason)
        return sess.handle(s.PaymentDeclined("quote_expired"))
    if isinstance(exc, OutcomeUnknownError | BadAnswerError):
        core.inquired = True
        core.journal.update(reference, "unknown_outcome", reason=exc.message)
        return sess.handle(s.OutcomeUnknown(exc.message))
    if isinstance(exc, ProblemError):
        reason = exc.type or exc.message
        core.journal.update(reference, "declined", reason=reason, detail=exc.message)
        return sess.handle(s.PaymentDeclined(reason))
    core.journal.update(reference, "unknown_outcome", reason=exc.message)
    return sess.handle(s.OutcomeUnknown(exc.message))


async def inquire(core: SaleCore) -> list[s.Command]:
    """Ask the backend by reference before anything else; resend (same key, same body) only
    when it does not have the payment."""
    sess, report = core.session, core.opened
    reference = report.reference
    for attempt in range(1, core.inquiry_attempts + 1):
        core.inquiring(attempt, core.inquiry_attempts)
        await asyncio.sleep(core.inquiry_delay_s)
        try:
            try:
                found = await core.client.find_by_reference(reference)
            except ProblemError as exc:
                # a refused question is no answer about the payment: it may be charged
                core.link(up=False, detail=exc.message)
                continue
            if found is None and sess.quote is not None and sess.payload is not None:
                found = await core.client.create_payment(
                    quote=sess.quote,
                    reference=reference,
                    payload=sess.payload,
                    idempotency_key=report.idempotency_key,
                )
        except QuoteExpiredError:
            # never sent on an expired quote; the backend had nothing: not charged
            core.outcome = "failed"
            report.reason = "no answer, and the quote expired before a resend; not charged"
            core.journal.update(reference, "failed", reason=report.reason)
            return sess.handle(s.PaymentDeclined(report.reason))
        except ProblemError as exc:
            core.journal.update(reference, "declined", reason=exc.type or exc.message)
            return sess.handle(s.PaymentDeclined(exc.type or exc.message))
        except BackendError as exc:
            core.link(up=False, detail=exc.message)
            continue
        core.link(up=True)
        if found is not None and found.status in ("approved", "declined"):
            return settling.settle(core, found)
    core.left_unknown()
    return []  # left in unknown_outcome; `reconcile` settles it later

"""Presentation checks and replay guards: what the terminal refuses before the backend is
asked (an expired wallet token, a replayed Bolt Card tap or token, a kind not taken offline).

Each refusal is journaled as ``declined`` with the payload's hash, never the payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from terminal.journal import ReplayError, payload_hash
from terminal.presentation import Presentation, identify

if TYPE_CHECKING:
    from terminal.sale.core import SaleCore


def refused(core: SaleCore, payload: str, seen: Presentation) -> str | None:
    """Why the presentation itself is refused (an expired token, the customer's own receive
    address, a payload for another asset or network), journaled; or None. The journal keeps
    the code; the sale's report says it in words when there are words to say."""
    if seen.refusal is not None:
        core.journal.update(
            core.opened.reference,
            "declined",
            reason=seen.refusal,
            payload_hash=payload_hash(payload),
            detail=seen.detail,
        )
    return seen.refusal


def in_words(seen: Presentation) -> str | None:
    """The refusal as the sale's report gives it: in words when there are words, else its code."""
    if seen.refusal is None:
        return None
    return f"{seen.detail}; not charged" if seen.detail else seen.refusal


def presented(core: SaleCore, payload: str) -> Presentation:
    """What was presented, judged against the sale's asset (one rule for every face)."""
    return identify(payload, now=core.clock(), crypto=core.session.asset)


def remember(core: SaleCore, payload: str, seen: Presentation) -> str | None:
    """Remember the presentation's one-time parts; why it is refused when they were seen before."""
    reference = core.opened.reference
    try:
        if seen.replay_token is not None:
            core.journal.remember_token(seen.guard_kind or seen.kind, seen.replay_token, reference)
        if seen.card_uid is not None and seen.counter is not None:
            core.journal.advance_counter(seen.card_uid, seen.counter, reference)
    except ReplayError as exc:
        core.opened.notices.append(f"Refused: {exc}")
        core.journal.update(
            reference,
            "declined",
            reason="replayed_tap",
            payload_hash=payload_hash(payload),
            detail=str(exc),
        )
        return "replayed_tap"
    return None


def check(core: SaleCore, payload: str, *, queued: bool = False) -> tuple[str, str | None]:
    """The presentation's kind and why the terminal refuses it (expired token, a payload that
    does not fit the sale, a replayed tap, for a sale taken offline a kind not allowed offline),
    remembering its one-time parts."""
    seen = presented(core, payload)
    if refused(core, payload, seen) is not None:
        return seen.kind, in_words(seen)
    if queued:
        why = core.offline.kind_refusal(seen.kind)
        if why is not None:
            core.journal.update(core.opened.reference, "declined", reason="offline_kind_refused", detail=why)
            return seen.kind, why
    return seen.kind, remember(core, payload, seen)

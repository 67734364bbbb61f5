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
    """Why the presentation itself is refused (an expired token...), journaled; or None."""
    if seen.refusal is not None:
        core.journal.update(
            core.opened.reference, "declined", reason=seen.refusal, payload_hash=payload_hash(payload)
        )
    return seen.refusal


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
    """The presentation's kind and why the terminal refuses it (expired token, a replayed
    tap, for a sale taken offline a kind not allowed offline), remembering its one-time parts."""
    seen = identify(payload, now=core.clock())
    refusal = refused(core, payload, seen)
    if refusal is not None:
        return seen.kind, refusal
    if queued:
        why = core.offline.kind_refusal(seen.kind)
        if why is not None:
            core.journal.update(core.opened.reference, "declined", reason="offline_kind_refused", detail=why)
            return seen.kind, why
    return seen.kind, remember(core, payload, seen)

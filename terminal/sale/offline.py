"""The offline policy (opt-in, ``[offline]``): what may be taken while the backend cannot be
reached, and taking it. A sale within the caps is journaled ``offline_queued`` with its payload
and forwarded by :func:`terminal.settlement.reconcile`; the session's table has no offline
states, so these paths are run here directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from terminal.client import BackendError, BackendUnavailableError
from terminal.config import Settings
from terminal.domain import session as s
from terminal.domain.money import Money
from terminal.domain.quote import Quote
from terminal.sale import guards

if TYPE_CHECKING:
    from terminal.sale.core import SaleCore


@dataclass(frozen=True, slots=True)
class OfflineCaps:
    """The offline limits of one currency: per sale, and for everything queued at once."""

    max_payment: Money
    max_total: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflinePolicy:
    """What may be taken while the backend is unreachable (``[offline]`` in the config). Caps are
    per currency: a sale is compared with its own currency's caps, never converted."""

    enabled: bool = False
    caps: Mapping[str, OfflineCaps] = field(default_factory=dict)
    allowed_kinds: tuple[str, ...] = ()

    def cap_for(self, currency: str) -> OfflineCaps | None:
        return self.caps.get(currency)

    def refusal(self, amount: Money, queued_minor: int) -> str | None:
        """Why ``amount`` cannot be taken offline now, or None when it can."""
        if not self.enabled:
            return "offline payments are off"
        cap = self.cap_for(amount.asset.code)
        if cap is None:
            return (
                f"there is no offline cap for {amount.asset.code} "
                f"(offline.max_payment and offline.max_total); this sale is {amount}"
            )
        if cap.max_payment < amount:
            return (
                f"offline payments are limited to {cap.max_payment} each while the backend is "
                f"unreachable; this sale is {amount}"
            )
        queued = Money(queued_minor, amount.asset)
        if cap.max_total < queued + amount:
            return (
                f"the offline queue is full: {queued} of {cap.max_total} already stored; "
                f"this sale of {amount} would exceed it"
            )
        return None

    def kind_refusal(self, kind: str) -> str | None:
        """Why a presentation of ``kind`` cannot be taken offline, or None when it can."""
        if kind in self.allowed_kinds:
            return None
        allowed = ", ".join(self.allowed_kinds) or "none"
        return (
            f"Not taken: a {kind.replace('_', ' ')} cannot be accepted offline (allowed offline: {allowed})"
        )


def offline_policy(settings: Settings) -> OfflinePolicy:
    """The ``[offline]`` section as a policy: the caps of every currency that has both (the
    settings model already checked each amount against its currency's decimals)."""
    o = settings.offline
    caps = {
        code: OfflineCaps(Money.parse(o.max_payment[code], code), Money.parse(o.max_total[code], code))
        for code in o.max_payment
        if code in o.max_total
    }
    return OfflinePolicy(enabled=o.enabled, caps=caps, allowed_kinds=o.allowed_kinds)


def queue_unsent(
    core: SaleCore, quote: Quote, payload: str, kind: str, exc: BackendUnavailableError
) -> list[s.Command]:
    """A payment that did not reach the backend (not charged): queued when the policy takes it,
    else journaled ``failed`` with why."""
    report, reference = core.opened, core.opened.reference
    refusal = core.offline.refusal(quote.fiat, core.journal.offline_total(quote.fiat.asset.code))
    if refusal is None and kind in core.offline.allowed_kinds:
        core.journal.queue_offline(reference, payload=payload, payload_kind=kind)
        core.outcome = "queued"
        report.notices.append("Stored offline; it is charged when the backend is back")
        return core.session.handle(s.PaymentDeclined("offline_queued"))
    core.outcome = "failed"
    report.reason = f"{exc.title}: {exc.message}; not charged"
    core.journal.update(reference, "failed", reason=report.reason)
    return core.session.handle(s.PaymentDeclined(report.reason))


def admit(core: SaleCore, cause: BackendError) -> str | None:
    """No quote, the backend is unreachable: None when the sale may be taken offline (it then
    waits for a tap), else why not, with the sale journaled ``cancelled`` with that reason."""
    report, reference = core.opened, core.opened.reference
    amount = report.fiat
    refusal = core.offline.refusal(amount, core.journal.offline_total(amount.asset.code))
    if refusal is not None:
        core.outcome = "cancelled"
        report.reason = f"{cause.title}: {cause.message}; not taken: {refusal}"
        core.journal.update(reference, "cancelled", detail=report.reason)
        return refusal
    report.notices.append("Backend unreachable: taking this payment offline")
    return None


def accept(core: SaleCore, payload: str, source: str) -> None:
    """The customer presented ``payload`` to an admitted offline sale: queue it when offline
    allows its kind, else decline it (nothing was sent, nothing is kept)."""
    report = core.opened
    report.source = source
    kind, refusal = guards.check(core, payload, queued=True)
    if refusal is not None:
        core.outcome, report.reason = "declined", refusal
        return
    seq = core.journal.queue_offline(report.reference, payload=payload, payload_kind=kind)
    core.outcome = "queued"
    report.notices.append(f"Stored offline (#{seq}); it is charged when the backend is back")


def expire(core: SaleCore) -> None:
    """Nobody tapped an admitted offline sale within the payment window."""
    core.outcome = "expired"
    core.journal.update(core.opened.reference, "expired", detail="no tap while offline")


async def take(
    core: SaleCore, cause: BackendError, presented: Callable[[], Awaitable[tuple[str, str] | None]]
) -> None:
    """No quote, the backend is unreachable: take the sale offline if the policy allows, else
    refuse it with a message that says which limit stopped it. ``presented()`` waits for the
    customer's ``(payload, source)``, or None when the payment window ended first. (The TUI,
    which waits through events rather than a call, runs the same three steps itself.)"""
    if admit(core, cause) is not None:
        return
    got = await presented()
    if got is None:
        expire(core)
        return
    accept(core, *got)

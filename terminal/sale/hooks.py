"""The hooks a face of the sale core fills in to show or wait: every one a no-op here.

:class:`~terminal.sale.core.SaleCore` calls them at each step; the headless
:class:`~terminal.sale.runner.SaleRunner` overrides the ones that wait for readers, the TUI's
till (``terminal.tui.till.sale.TillSale``) turns each into a view or status update.
"""

from __future__ import annotations

from terminal.client import BackendError, PaymentResult
from terminal.domain import session as s
from terminal.domain.quote import Quote


class SaleHooks:
    async def start_readers(self) -> None:
        """The quote is on screen: the customer may pay now."""

    def stop_readers(self) -> None:
        """Nothing is awaited any more."""

    async def await_payment(self, expires_at: float) -> list[s.Command]:
        """Wait for a presentation, an expiry or the window's end (headless); an interactive
        face returns at once and calls ``present`` / ``expire_quote`` later."""
        return []

    def was_settled_elsewhere(self, state: str) -> None:
        """A cancel or the window's end found the sale already settled (``state``) elsewhere."""

    def finished(self) -> None:
        """The sale reached a result the session shows."""

    def quoting(self) -> None:
        """A quote is being asked for (the previous one, if any, is gone)."""

    def submitting(self, source: str) -> None:
        """The payment ``source`` presented is being checked and sent."""

    def quote_received(self, quote: Quote) -> None:
        """A quote arrived and is journaled."""

    def quote_failed(self, exc: BackendError) -> None:
        """The backend refused (or could not give) a quote; the journaled sale is closed."""

    def link(self, *, up: bool, detail: str = "") -> None:
        """The backend answered (``up``) or could not be reached."""

    def unknown(self, why: str) -> None:
        """A payment's answer was lost; the backend is being asked about it."""

    def inquiring(self, attempt: int, attempts: int) -> None:
        """Status inquiry ``attempt`` of ``attempts`` for an unknown outcome."""

    def left_unknown(self) -> None:
        """Still unknown after asking: `reconcile` settles it later."""

    def settled(self, result: PaymentResult) -> None:
        """The backend's answer for this sale is journaled."""

    async def paid_elsewhere(self, payload: str, source: str) -> PaymentResult | None:
        """A payment the backend already has (a paid invoice), or None to submit ``payload``."""
        return None

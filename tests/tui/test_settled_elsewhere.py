"""Cancelling (or the window closing on) a sale that reconcile already settled elsewhere is a calm
notice with the sale's state, not "Unexpected error"."""

from __future__ import annotations

from terminal.journal import Journal
from tests.tui.conftest import MakeTill
from tests.tui.helpers import record_notifications, start_sale, until


async def test_cancel_after_reconcile_closed_the_sale_shows_its_state(make: MakeTill) -> None:
    till = make()
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        reference = till.register.view.reference or ""
        # another process settled it first (with another outcome than a cancel)
        other = Journal(till.journal.path)
        other.update(reference, "expired", detail="closed elsewhere")
        other.close()
        await pilot.press("escape")
        await until(pilot, lambda: any(t == "Sale already settled" for t, _, _ in seen))
        assert not any(t == "Unexpected error" for t, _, _ in seen)
        message = next(m for t, m, _ in seen if t == "Sale already settled")
        assert "expired" in message
        record = till.journal.get(reference)
        assert record is not None and record.state == "expired"


async def test_window_closing_after_reconcile_settled_it_is_calm(make: MakeTill) -> None:
    till = make()
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        reference = till.register.view.reference or ""
        other = Journal(till.journal.path)
        other.update(reference, "cancelled", detail="interrupted before the payment was sent")
        other.close()
        till.register._deadline = 0.0  # the payment window is over
        await till.register.tick()
        await until(pilot, lambda: any(t == "Sale already settled" for t, _, _ in seen))
        assert till.register.core.status == "cancelled"

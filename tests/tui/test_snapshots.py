"""Snapshots of the main screens at 80×24 with a fixed clock (pytest-textual-snapshot).
Update after a deliberate change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the report before committing."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from backend_stub.services.payments import core as payments_core
from backend_stub.services.payments import v2 as payments_v2
from backend_stub.services.rates import core as rates_core
from terminal.domain.session import State
from tests.tui.conftest import MakeTill
from tests.tui.harness import Till
from tests.tui.helpers import start_sale, until
from tests.tui.invoices import BackendInvoiceDesk

Snap = Callable[..., bool]


@pytest.fixture(autouse=True)
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator draws random quote and payment ids; snapshots need the same ones every run."""
    counter = itertools.count(1)

    def new_id(prefix: str) -> str:
        return f"{prefix}_{next(counter):020x}"

    monkeypatch.setattr(rates_core, "new_id", new_id)
    monkeypatch.setattr(payments_core, "new_id", new_id)
    monkeypatch.setattr(payments_v2, "new_id", new_id)


def _ready(till: Till) -> Callable[[], bool]:
    return lambda: (
        len(till.register.readers) == 2 and all(r.state == "ready" for r in till.register.readers.values())
    )


def _snap(snap_compare: Snap, till: Till, steps: Callable[[Pilot[Any]], Awaitable[None]]) -> bool:
    return snap_compare(till.app, terminal_size=(80, 24), run_before=steps)


def test_amount_screen(snap_compare: Snap, make: MakeTill) -> None:
    till = make()

    async def steps(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: till.register.backend.connected is True)
        await pilot.press("1", "2", "full_stop", "5")

    assert _snap(snap_compare, till, steps)


def test_tip_screen(snap_compare: Snap, make: MakeTill) -> None:
    till = make()

    async def steps(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: till.register.backend.connected is True)
        await pilot.press("4", "2", "enter")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "TipScreen")

    assert _snap(snap_compare, till, steps)


def test_waiting_screen_with_invoice_qr(snap_compare: Snap, make: MakeTill) -> None:
    till = make(invoices=BackendInvoiceDesk)

    async def steps(pilot: Pilot[Any]) -> None:
        await start_sale(pilot, till, tip="1")
        await until(pilot, lambda: till.register.view.invoice is not None)
        await until(pilot, _ready(till))

    assert _snap(snap_compare, till, steps)


def test_declined_result(snap_compare: Snap, make: MakeTill) -> None:
    till = make()

    async def steps(pilot: Pilot[Any]) -> None:
        await start_sale(pilot, till)
        await pilot.press("d")
        await until(pilot, lambda: till.register.session.state is State.DECLINED)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ResultScreen")

    assert _snap(snap_compare, till, steps)


def test_receipt(snap_compare: Snap, make: MakeTill) -> None:
    till = make()

    async def steps(pilot: Pilot[Any]) -> None:
        await start_sale(pilot, till)
        await pilot.press("t")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ResultScreen")
        await pilot.press("p")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReceiptScreen")

    assert _snap(snap_compare, till, steps)


def test_history(snap_compare: Snap, make: MakeTill) -> None:
    till = make()

    async def steps(pilot: Pilot[Any]) -> None:
        for key, final in (("t", State.APPROVED), ("d", State.DECLINED)):
            await start_sale(pilot, till)
            await pilot.press(key)
            await until(pilot, lambda final=final: till.register.session.state is final)  # type: ignore[misc]
            await pilot.press("enter")
            await until(pilot, lambda: till.register.session.state is State.IDLE)
        await pilot.press("h")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "HistoryScreen")

    assert _snap(snap_compare, till, steps)

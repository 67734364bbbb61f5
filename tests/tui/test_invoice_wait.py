"""The waiting screen follows its invoice from a task of its own: one held long-poll at a time
against a backend whose discovery lists ``invoice-wait``, polling every 0.5 s against one whose
discovery does not (``invoice_wait_max_s=0``); ticks make no request. Counted on the requests the
till sends to the in-process backend, over real seconds (the backend holds by the real clock)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from textual.pilot import Pilot

from terminal.domain.session import State
from terminal.tui.screens.sale import WaitingScreen
from tests.tui.conftest import MakeTill
from tests.tui.harness import Till
from tests.tui.helpers import start_sale, until
from tests.tui.invoices import BackendInvoiceDesk

WAIT_S = 5.0  # how long the till waits while its requests are counted
OLD_BACKEND = {"invoice_wait_max_s": 0.0}  # discovery without `invoice-wait`


def invoice_reads(till: Till) -> list[str]:
    return [t for t in till.transport.targets if t.startswith("GET /payments/v2/invoices/")]


def invoice_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("invoice ") and not t.done()]


async def waiting_with_invoice(pilot: Pilot[None], till: Till, *, held: bool) -> None:
    """Start a sale and let the till's first invoice read go out (the held one, when offered)."""
    await start_sale(pilot, till)
    await until(pilot, lambda: till.register.view.invoice is not None)
    await until(pilot, lambda: isinstance(pilot.app.screen, WaitingScreen))
    await until(pilot, lambda: any(("wait=" in r) is held for r in invoice_reads(till)))


@pytest.mark.parametrize("offered", [True, False], ids=["long-poll", "old-backend"])
async def test_the_waiting_screen_holds_one_request_instead_of_polling(make: MakeTill, offered: bool) -> None:
    till = make(invoices=BackendInvoiceDesk, service=None if offered else OLD_BACKEND)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await waiting_with_invoice(pilot, till, held=offered)
        before = len(invoice_reads(till))
        started = time.monotonic()
        lock_seen_held = 0
        while time.monotonic() - started < WAIT_S:  # the app ticks every 0.05 s meanwhile
            lock_seen_held += till.register._lock.locked()
            await pilot.pause(0.02)
        waited = time.monotonic() - started
        reads = invoice_reads(till)[before:]
        assert till.register.session.state is State.AWAITING_PAYMENT
        following = len(invoice_tasks())
    if offered:
        # a 4 s hold each (the backend's limit), asked again at once: about WAIT_S / 4
        assert all("wait=8&after=" in r for r in reads), reads
        assert 1 <= len(reads) <= waited / 4 + 1, (waited, reads)
    else:
        # never asked to hold; polled every 0.5 s (the old tick), not on every 0.05 s tick
        assert not any("wait=" in r for r in reads), reads
        assert 0.6 * waited / 0.5 <= len(reads) <= waited / 0.5 + 1, (waited, reads)
    assert following == 1
    assert lock_seen_held == 0  # a waiting sale leaves the lock to the cashier's steps
    assert not invoice_tasks()  # the app's exit closed the register, and the task with it


@pytest.mark.parametrize("offered", [True, False], ids=["long-poll", "old-backend"])
async def test_a_payment_while_waiting_is_shown_at_once_not_on_a_tick(make: MakeTill, offered: bool) -> None:
    till = make(invoices=BackendInvoiceDesk, service=None if offered else OLD_BACKEND)
    till.app.tick_s = 3600  # no tick comes during the test: only the invoice's task can see the payment
    async with till.app.run_test(size=(80, 24)) as pilot:
        await waiting_with_invoice(pilot, till, held=offered)
        await pilot.pause(0.3)  # the first read is now being held (or the poll has come back)
        invoice = till.register.view.invoice
        desk = till.register.invoices
        assert invoice is not None and isinstance(desk, BackendInvoiceDesk)
        before = len(invoice_reads(till))
        paid_at = time.monotonic()
        paid = await desk.pay(invoice.invoice_id)
        await until(pilot, lambda: till.register.session.state is State.APPROVED, timeout=3)
        took = time.monotonic() - paid_at
        after = invoice_reads(till)[before:]
        assert till.register.view.payment_id == paid["payment_id"] and till.register.view.source == "invoice"
        shown = till.register.view.invoice
        assert shown is not None and shown.status == "paid"
        await until(pilot, lambda: not invoice_tasks())  # the sale ended: nothing follows the invoice
    if offered:
        # the read held when the wallet paid was answered with the payment: no other read
        assert after == [], after
        assert took < 30, took  # the tick is an hour: only the held read can have shown it
    else:
        # the next poll, within 0.5 s; or none, when a poll already on its way as the wallet
        # paid read the payment (the log has a read when it is sent: a busy machine saw this)
        assert len(after) <= 2, after
        assert took < 30, took  # the tick is an hour: only the poll can have shown it


async def test_the_task_ends_with_the_quote_and_follows_the_new_quotes_invoice(make: MakeTill) -> None:
    till = make(invoices=BackendInvoiceDesk, quote_ttl_s=30.0)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await waiting_with_invoice(pilot, till, held=True)
        first = till.register.view.invoice
        assert first is not None
        till.clock.advance(31)  # the quote runs out: the next tick re-quotes, with a new invoice
        await until(pilot, lambda: till.register.session.quotes_requested == 2)
        await until(
            pilot,
            lambda: (
                (till.register.view.invoice or first).invoice_id != first.invoice_id
                and till.register.session.state is State.AWAITING_PAYMENT
            ),
        )
        second = till.register.view.invoice
        assert second is not None
        await until(pilot, lambda: any(second.invoice_id in r for r in invoice_reads(till)))
        [task] = invoice_tasks()
        assert task.get_name() == f"invoice {second.invoice_id}"
        await pilot.pause(0.3)
        before = len(invoice_reads(till))
        await pilot.press("escape")  # the cashier cancels: the task goes with the sale
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        await until(pilot, lambda: not invoice_tasks())
        await pilot.pause(0.6)
        assert invoice_reads(till)[before:] == []

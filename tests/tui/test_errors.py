"""Driver and backend errors become notifications with a title and a next step; the till
keeps working."""

from __future__ import annotations

from drivers import Reader, open_reader
from drivers.registry import EventSink, MissingExtraError
from terminal.domain.session import State
from tests.tui.conftest import MakeTill
from tests.tui.helpers import record_notifications, screen_text, start_sale, until


class CrashingReader:
    device = "sim:qr?count=0"

    def start(self, sink: EventSink) -> None:
        raise OSError(19, "No such device")

    def stop(self) -> None:
        pass


def factory(device: str) -> Reader:
    if device == "sim:nfc?count=0":
        raise MissingExtraError("nfc", "nfc", "nfc")
    if device == "sim:qr?count=0":
        return CrashingReader()
    return open_reader(device)


async def test_reader_failures_are_notices_and_the_sale_goes_on(make: MakeTill) -> None:
    till = make(reader_factory=factory)
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: len(seen) >= 2)
        titles = {t for t, _, _ in seen}
        assert {"Reader library missing", "Reader stopped"} <= titles
        missing = next(m for t, m, _ in seen if t == "Reader library missing")
        assert "pip install 'cryptopos[nfc]'" in missing
        assert all(s == "error" for t, _, s in seen if t.startswith("Reader"))
        assert {r.state for r in till.register.readers.values()} == {"error"}
        # the demo key still works through a real simulated reader
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)


async def test_backend_down_at_quote_time_says_so_and_keeps_the_sale(make: MakeTill) -> None:
    till = make()
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        till.transport.down = True
        await pilot.press("5", "enter", "n", "1")
        await until(pilot, lambda: any(t == "Backend unreachable" for t, _, _ in seen))
        assert till.register.session.state is State.AMOUNT_ENTERED  # pick an asset again
        assert till.register.backend.connected is False
        assert [r.state for r in till.journal.sales()] == ["cancelled"]
        assert any("try again" in m for t, m, _ in seen if t == "Backend unreachable")
        assert any("offline payments are off" in m for t, m, _ in seen if t == "Backend unreachable")
        till.transport.down = False
        await pilot.press("1")
        await until(pilot, lambda: till.register.session.state is State.AWAITING_PAYMENT)
        assert till.register.backend.connected is True


async def test_a_qr_that_is_not_a_payment_is_explained_and_the_sale_keeps_waiting(make: MakeTill) -> None:
    till = make()
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await pilot.press("g")  # demo key: a wifi-login QR shown to the camera
        await until(pilot, lambda: any(t == "Not a payment code" for t, _, _ in seen))
        assert till.register.session.state is State.AWAITING_PAYMENT
        reference = till.register.view.reference or ""
        assert till.journal.events(reference) == ["amount_entered", "awaiting_payment"]
        assert not till.backend.payments()
        await pilot.press("t")  # the customer then taps a card
        await until(pilot, lambda: till.register.session.state is State.APPROVED)


async def test_a_refused_requote_returns_to_the_asset_choice(make: MakeTill) -> None:
    till = make(quote_ttl_s=30)
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        first = till.register.view.reference or ""
        till.transport.down = True
        till.clock.advance(31)  # the quote runs out and the backend is gone
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "AssetScreen")
        assert till.register.session.state is State.AMOUNT_ENTERED
        assert any(t == "Backend unreachable" for t, _, _ in seen)
        record = till.journal.get(first)
        assert record is not None and record.state == "cancelled"
        till.transport.down = False
        await pilot.press("1")  # the cashier tries again: a new journaled sale
        await until(pilot, lambda: till.register.session.state is State.AWAITING_PAYMENT)
        assert till.register.view.reference not in (None, first)


OFFLINE = {"offline.enabled": True, "offline.allowed_kinds": ["test_card"]}


async def test_backend_down_at_quote_time_takes_an_offline_sale_within_the_caps(make: MakeTill) -> None:
    till = make(extra=OFFLINE)
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        till.transport.down = True
        await pilot.press("5", "enter", "n", "1")  # 5.00 EUR: within the default offline caps
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "WaitingScreen")
        assert any("offline" in m for t, m, _ in seen if t == "Sale")
        assert till.register.backend.connected is False
        reference = till.register.view.reference or ""
        await pilot.press("t")  # the customer taps their card
        await until(pilot, lambda: till.register.core.status == "queued")
        record = till.journal.get(reference)
        assert record is not None and record.state == "offline_queued" and record.queue_seq == 1
        assert till.register.backend.queued == 1 and not till.backend.payments()
        await until(pilot, lambda: "STORED OFFLINE" in screen_text(pilot))

        till.transport.down = False
        till.clock.advance(11)  # past the client's circuit breaker pause
        assert await till.register.reconcile() == 1
        record = till.journal.get(reference)
        assert record is not None and record.state == "approved"
        assert [p["reference"] for p in till.backend.payments()] == [reference]
        await pilot.press("enter")  # the next customer: a fresh sale
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        await start_sale(pilot, till)
        assert till.register.view.reference not in (None, reference)


async def test_an_offline_sale_at_quote_time_can_be_cancelled_or_run_out(make: MakeTill) -> None:
    till = make(extra=OFFLINE, payment_wait_s=30)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        till.transport.down = True
        await pilot.press("5", "enter", "n", "1")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "WaitingScreen")
        first = till.register.view.reference or ""
        await pilot.press("escape")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
        record = till.journal.get(first)
        assert record is not None and record.state == "cancelled"
        await pilot.press("5", "enter", "n", "1")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "WaitingScreen")
        second = till.register.view.reference or ""
        till.clock.advance(31)  # nobody taps within the payment window
        await until(pilot, lambda: till.register.view.state is State.EXPIRED)
        assert till.register.core.status == "expired"
        record = till.journal.get(second)
        assert record is not None and record.state == "expired"
        assert till.register.backend.queued == 0 and not till.backend.payments()


async def test_backend_down_at_quote_time_over_the_offline_cap_says_so(make: MakeTill) -> None:
    till = make(extra={**OFFLINE, "offline.max_payment": {"EUR": "4.00"}})
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        till.transport.down = True
        await pilot.press("5", "enter", "n", "1")
        await until(pilot, lambda: any(t == "Backend unreachable" for t, _, _ in seen))
        assert till.register.session.state is State.AMOUNT_ENTERED  # pick an asset again
        assert any("limited to 4.00 EUR" in m for t, m, _ in seen if t == "Backend unreachable")
        assert [r.state for r in till.journal.sales()] == ["cancelled"]
        assert till.register.backend.queued == 0

"""Full sales driven by key presses, asserting on the register's state, the journal and
the backend (real emulated backend in-process, real SQLite journal, real sim readers)."""

from __future__ import annotations

from urllib.parse import quote

from terminal.domain.session import State
from terminal.journal import payload_hash
from terminal.tui.screens.sale import ResultScreen, WaitingScreen
from tests.tui.conftest import MakeTill
from tests.tui.helpers import screen_text, start_sale, until

TAP = "cryptopos-test:card:approve"


def _sim(kind: str, payload: str, delay: float = 0.05) -> str:
    return f"sim:{kind}?payload={quote(payload, safe='')}&delay={delay}"


async def test_pay_by_nfc(make: MakeTill) -> None:
    till = make(readers=(_sim("nfc", TAP),), demo=False)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till, amount="12", tip="2")  # 15% tip
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        await until(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))
        view = till.register.view
        assert view.total is not None and view.total.minor == 1380  # 12.00 + 1.80
        assert view.tip is not None and view.tip.minor == 180
        assert view.source is not None and view.source.startswith("sim:nfc")
        record = till.journal.get(view.reference or "")
        assert record is not None
        assert record.state == "approved"
        assert record.fiat_minor == 1380 and record.asset == "BTC"
        assert record.payment_id == view.payment_id
        assert record.payload_hash == payload_hash(TAP)
        assert till.journal.events(record.reference) == [
            "amount_entered",
            "awaiting_payment",
            "submitting",
            "approved",
        ]
        stored = till.backend.payment(record.payment_id or "")
        assert stored["reference"] == record.reference and stored["status"] == "approved"
        assert int(stored["amount_minor"]) == record.crypto_minor
        await until(pilot, lambda: "APPROVED" in screen_text(pilot))


async def test_pay_by_qr_scan(make: MakeTill) -> None:
    payload = "cryptopos-test:wallet:approve"
    till = make(readers=("sim:nfc?count=0", _sim("qr", payload, 0.1)), demo=False)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till, amount="4", asset="3")  # ETH
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        view = till.register.view
        assert view.source is not None and view.source.startswith("sim:qr")
        record = till.journal.get(view.reference or "")
        assert record is not None and record.state == "approved" and record.asset == "ETH"
        assert record.payload_hash == payload_hash(payload)
        assert till.backend.payment(record.payment_id or "")["asset"] == "ETH"


async def test_declined_card_shows_the_reason_in_words(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: isinstance(pilot.app.screen, WaitingScreen))
        await pilot.press("d")  # demo key: a card the backend declines
        await until(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))
        assert till.register.session.state is State.DECLINED
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None and record.state == "declined" and record.reason == "card_declined"
        await until(pilot, lambda: "declined by its issuer" in screen_text(pilot))
        assert "DECLINED" in screen_text(pilot)
        # a new sale starts from a clean amount screen
        await pilot.press("enter")
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        assert type(pilot.app.screen).__name__ == "AmountScreen"


async def test_expired_quote_is_requoted_and_the_new_quote_is_paid(make: MakeTill) -> None:
    till = make(quote_ttl_s=30)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        first = till.register.view.quote
        assert first is not None
        till.clock.advance(31)  # the countdown runs out; the next tick re-quotes
        await until(pilot, lambda: till.register.view.quote not in (None, first))
        await until(pilot, lambda: till.register.session.state is State.AWAITING_PAYMENT)
        second = till.register.view.quote
        assert second is not None and second.quote_id != first.quote_id
        assert till.register.session.quotes_requested == 2
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None and record.quote_id == second.quote_id
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        record = till.journal.get(record.reference)
        assert record is not None and record.state == "approved"
        assert till.backend.payment(record.payment_id or "")["quote_id"] == second.quote_id
        assert till.journal.events(record.reference).count("awaiting_payment") == 2


async def test_payment_window_closes_as_expired(make: MakeTill) -> None:
    till = make(payment_wait_s=45)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        till.clock.advance(46)
        await until(pilot, lambda: till.register.session.state is State.EXPIRED)
        await until(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None and record.state == "expired" and record.payment_id is None
        assert not till.backend.payments()
        await until(pilot, lambda: "EXPIRED" in screen_text(pilot))


async def test_unknown_outcome_is_settled_by_a_status_inquiry(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        till.transport.drop_next_answers = 1  # the payment is made, its answer lost
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        reference = till.register.view.reference or ""
        assert till.journal.events(reference) == [
            "amount_entered",
            "awaiting_payment",
            "submitting",
            "unknown_outcome",
            "approved",
        ]
        # the journal tells the truth: the answer was lost, an inquiry by reference settled it
        timeline = dict(till.journal.timeline(reference))
        assert "asking the backend by reference" in (timeline["unknown_outcome"] or "")
        assert timeline["approved"] == "settled by a status inquiry"
        # charged once: one payment for the reference, found by the inquiry, not sent twice
        assert [(p["reference"], p["status"]) for p in till.backend.payments()] == [(reference, "approved")]
        version = till.register.client.api_version
        posts = [r for r in till.transport.requests if r == f"POST /payments/{version}/payments"]
        inquiries = [r for r in till.transport.requests if r == f"GET /payments/{version}/payments"]
        assert len(posts) == 1 and len(inquiries) == 1
        assert till.register.client.stats.inquiries == 1
        record = till.journal.get(reference)
        assert record is not None and record.payment_id == till.backend.payments()[0]["payment_id"]
        assert till.register.backend.queued == 0


async def test_a_sale_the_backend_cannot_be_reached_for_is_not_charged(make: MakeTill) -> None:
    till = make()  # offline payments are off by default
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        till.transport.down = True  # the link drops after the quote
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.DECLINED)
        reference = till.register.view.reference or ""
        record = till.journal.get(reference)
        # nothing reached the backend: the journal says so, nothing is kept to send later
        assert record is not None and record.state == "failed" and record.payload is None
        assert "not charged" in (record.reason or "")
        assert not till.backend.payments()
        assert till.register.backend.connected is False and till.register.backend.queued == 0
        await until(pilot, lambda: "not charged" in screen_text(pilot))


OFFLINE = {"offline.enabled": True, "offline.allowed_kinds": ["test_card"]}


async def test_offline_sale_is_queued_then_forwarded_once(make: MakeTill) -> None:
    till = make(extra=OFFLINE)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        till.transport.down = True  # the link drops after the quote
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.DECLINED)
        reference = till.register.view.reference or ""
        record = till.journal.get(reference)
        assert record is not None and record.state == "offline_queued" and record.queue_seq == 1
        assert till.register.core.status == "queued"
        assert till.register.backend.connected is False and till.register.backend.queued == 1
        assert not till.backend.payments()
        await pilot.pause()
        status = str(pilot.app.screen.query_one("#status-bar").render())
        assert "OFFLINE" in status and "1 queued" in status
        await until(pilot, lambda: "STORED OFFLINE" in screen_text(pilot))

        till.transport.down = False
        till.clock.advance(11)  # past the client's circuit breaker pause
        assert await till.register.reconcile() == 1
        record = till.journal.get(reference)
        assert record is not None and record.state == "approved"
        payment = till.backend.payment(record.payment_id or "")
        assert payment["reference"] == reference
        assert till.register.backend.connected is True and till.register.backend.queued == 0
        # forwarded exactly once: a second pass finds nothing to send
        assert await till.register.reconcile() == 0
        assert [p["reference"] for p in till.backend.payments()] == [reference]


async def test_offline_caps_refuse_with_a_clear_message(make: MakeTill) -> None:
    till = make(extra={**OFFLINE, "offline.max_payment": {"EUR": "10.00"}})
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)  # 12.00 EUR: above the offline cap
        till.transport.down = True
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.DECLINED)
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None and record.state == "failed" and till.register.backend.queued == 0
        assert not till.backend.payments()


async def test_cancel_while_waiting_journals_a_cancelled_sale(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        reference = till.register.view.reference or ""
        await pilot.press("escape")
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        record = till.journal.get(reference)
        assert record is not None and record.state == "cancelled"
        assert type(pilot.app.screen).__name__ == "AmountScreen"
        # a tap after cancelling pays nothing
        assert not till.backend.payments()


async def test_the_till_forwards_its_offline_queue_by_itself_when_the_backend_returns(
    make: MakeTill,
) -> None:
    till = make(reconcile_s=0.2, extra=OFFLINE)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        till.transport.down = True
        await pilot.press("t")
        await until(pilot, lambda: till.register.core.status == "queued")
        reference = till.register.view.reference or ""
        await pilot.press("enter")  # the cashier moves on to the next customer
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        assert till.register.backend.queued == 1
        till.transport.down = False
        till.clock.advance(11)  # past the client's circuit breaker pause
        await until(pilot, lambda: till.register.backend.queued == 0)
        record = till.journal.get(reference)
        assert record is not None and record.state == "approved"
        assert [p["reference"] for p in till.backend.payments()] == [reference]
        assert till.register.session.state is State.IDLE  # the new sale was not disturbed


async def test_the_backends_own_lost_answer_is_settled_by_inquiry(make: MakeTill) -> None:
    lost = "cryptopos-test:card:unknown"  # the emulator commits the payment, then drops the answer
    till = make(readers=(_sim("nfc", lost),), demo=False)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        reference = till.register.view.reference or ""
        assert till.journal.events(reference) == [
            "amount_entered",
            "awaiting_payment",
            "submitting",
            "unknown_outcome",
            "approved",
        ]
        assert till.journal.timeline(reference)[-1] == ("approved", "settled by a status inquiry")
        assert [(p["reference"], p["status"]) for p in till.backend.payments()] == [(reference, "approved")]
        assert till.register.client.stats.inquiries >= 1

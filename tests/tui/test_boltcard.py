"""The demo's Bolt Card: issued to the backend when the till connects, each key press a
fresh SUN tap that the backend verifies; a replayed tap is declined."""

from __future__ import annotations

from terminal.domain.session import State
from terminal.tui.demo import demo_card, issue_card
from tests.tui.conftest import MakeTill
from tests.tui.helpers import screen_text, start_sale, until


async def test_bolt_card_taps_are_verified_and_a_replay_is_declined(make: MakeTill) -> None:
    card = demo_card()
    till = make(demo_card=card.tap)

    async def setup() -> None:
        await issue_card(till.register.client, card)

    till.register.setup = setup
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        for expected in (1, 2):
            await start_sale(pilot, till, asset="2")  # BTC-LN: a Bolt Card pays over Lightning
            await pilot.press("b")
            await until(pilot, lambda: till.register.session.state is State.APPROVED)
            assert card.counter == expected
            payment = till.backend.payment(till.register.view.payment_id or "")
            assert payment["method"] == "boltcard" and payment["status"] == "approved"
            await pilot.press("enter")
            await until(pilot, lambda: till.register.session.state is State.IDLE)
        # a skimmed copy of the last tap
        till.register.demo_card = card.replay
        await start_sale(pilot, till, asset="2")
        await pilot.press("b")
        await until(pilot, lambda: till.register.session.state is State.DECLINED)
        record = till.journal.get(till.register.view.reference or "")
        assert record is not None and record.reason == "replayed_tap"
        # refused by the till's own replay guard (terminal.sale): it never reached the backend
        assert len(till.backend.payments()) == 2 and record.payment_id is None
        await until(pilot, lambda: "already used" in screen_text(pilot))


async def test_a_bolt_card_on_an_on_chain_sale_is_refused_and_the_sale_keeps_waiting(make: MakeTill) -> None:
    from tests.tui.helpers import record_notifications

    card = demo_card()
    till = make(demo_card=card.tap)

    async def setup() -> None:
        await issue_card(till.register.client, card)

    till.register.setup = setup
    async with till.app.run_test(size=(80, 24)) as pilot:
        seen = record_notifications(till.app)
        await until(pilot, lambda: till.register.backend.connected is True)
        await start_sale(pilot, till)  # BTC, on-chain
        await pilot.press("b")
        await until(pilot, lambda: any(title == "Not for this sale" for title, _, _ in seen))
        message = next(m for title, m, _ in seen if title == "Not for this sale")
        assert "pays over Lightning; this sale is in BTC: choose BTC-LN" in message
        assert till.register.session.state is State.AWAITING_PAYMENT
        assert till.backend.payments() == [] and card.counter == 1  # tapped, never sent

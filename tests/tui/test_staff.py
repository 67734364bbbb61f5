"""Staff at the till (issue 15), driven by keys: signing in, the idle lock, switching user,
wrong PINs and a lockout that survives a restart, disabled staff, and a manager's PIN at the
moment of a refund, a hand-cancel and an offline change, with the audit trail of who did what."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, OptionList

from terminal.domain.session import State
from terminal.tui.screens.records import HistoryScreen, RefundScreen, SettingsScreen
from terminal.tui.screens.sale import ResultScreen
from terminal.tui.screens.staff import PinPadScreen, SignInScreen
from tests.tui.conftest import MakeTill
from tests.tui.harness import CASHIER, CASHIER_PIN, MANAGER, MANAGER_PIN, Till, make_till
from tests.tui.helpers import approve, footer_keys, screen_text, sign_in, start_sale, until

ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def shown_names(pilot) -> list[str]:  # type: ignore[no-untyped-def]
    names = pilot.app.screen.query_one(OptionList)
    return [str(names.get_option_at_index(i).prompt) for i in range(names.option_count)]


def trail(till: Till) -> list[tuple[str, str | None, str | None]]:
    return [(r.event, r.staff_id, r.approver_id) for r in till.journal.audit_trail()]


async def test_the_till_opens_on_sign_in_and_a_cashier_signs_in_with_the_keypad(make: MakeTill) -> None:
    till = make(signed_in=None)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen))
        assert shown_names(pilot) == ["Cass Cashier", "Max Manager  (manager)"]
        await pilot.press("1", "2")  # not on the amount screen: these are PIN digits
        assert "● ●" in screen_text(pilot) and "12" not in screen_text(pilot).split("PIN")[1][:8]
        await pilot.press("escape")
        await sign_in(pilot, CASHIER, CASHIER_PIN)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
        assert till.app.staff_on is not None and till.app.staff_on.staff_id == CASHIER
        assert "Cass Cashier" in screen_text(pilot)  # the status line says who is signed in
        await start_sale(pilot, till)
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
    sale = till.journal.get(till.register.view.reference or "")
    assert sale is not None and sale.staff_id == CASHIER
    assert ("signed_in", CASHIER, None) in trail(till) and ("sale_settled", CASHIER, None) in trail(till)


async def test_five_wrong_pins_lock_out_and_the_lockout_survives_a_restart(tmp_path: Path) -> None:
    till = make_till(tmp_path, signed_in=None)
    try:
        async with till.app.run_test(size=(80, 24)) as pilot:
            for n in range(1, 5):
                await sign_in(pilot, CASHIER, "1111")
                await until(pilot, lambda n=n: f"{5 - n} tr" in screen_text(pilot))  # type: ignore[misc]
            await sign_in(pilot, CASHIER, "1111")
            await until(pilot, lambda: "Locked out" in screen_text(pilot))
            assert "30 s" in screen_text(pilot)
            await sign_in(pilot, CASHIER, CASHIER_PIN)  # even the right PIN waits
            await until(
                pilot, lambda: "Locked out" in screen_text(pilot) and "Checking" not in screen_text(pilot)
            )
            assert isinstance(pilot.app.screen, SignInScreen) and till.app.staff_on is None
        events = [e for e, who, _ in trail(till) if who == CASHIER]
        assert events.count("pin_failed") == 5 and events.count("locked_out") == 1
    finally:
        till.close()

    again = make_till(tmp_path, signed_in=None)  # the till restarts on the same database
    try:
        again.clock.now = till.clock.now + 10
        async with again.app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot, CASHIER, CASHIER_PIN)
            await until(pilot, lambda: "Locked out" in screen_text(pilot))
            assert "20 s" in screen_text(pilot)
            again.clock.advance(21)
            await sign_in(pilot, CASHIER, CASHIER_PIN)
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
    finally:
        again.close()


async def test_the_till_locks_after_the_idle_time(make: MakeTill) -> None:
    till = make(extra={"staff.idle_lock_s": 900})
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
        till.clock.advance(800)
        await pilot.press("1")  # a key press: the idle time starts again
        till.clock.advance(800)
        await pilot.pause(0.3)
        assert till.app.staff_on is not None and type(pilot.app.screen).__name__ == "AmountScreen"
        till.clock.advance(100)
        await until(pilot, lambda: "Locked (idle 900 s)" in screen_text(pilot))
        assert isinstance(pilot.app.screen, SignInScreen) and till.app.staff_on is None
        assert till.journal.acting_staff is None
        assert trail(till)[-1] == ("till_locked", CASHIER, None)
        await pilot.press("h")  # nothing behind the lock answers keys
        assert isinstance(pilot.app.screen, SignInScreen)


async def test_switching_user_is_one_key_and_a_manager_signs_in_through_the_backend(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen))
        await sign_in(pilot, MANAGER, "0000")
        await until(pilot, lambda: "Wrong PIN" in screen_text(pilot))
        await sign_in(pilot, MANAGER, MANAGER_PIN)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
        assert till.app.staff_on is not None and till.app.staff_on.role == "manager"
        assert "Max Manager (manager)" in screen_text(pilot)
    assert [p for p, _ in till.staff.seen if p.endswith("/verify")] == ["/payments/v2/staff/verify"] * 2
    assert till.journal.pin_hash(MANAGER) is None
    assert trail(till)[-3:] == [
        ("signed_out", CASHIER, None),
        ("pin_failed", MANAGER, None),
        ("signed_in", MANAGER, None),
    ]


async def test_offline_a_manager_cannot_sign_in_but_a_cashier_can(make: MakeTill) -> None:
    till = make(signed_in=None)
    till.transport.down = True
    async with till.app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, MANAGER, MANAGER_PIN)
        await until(pilot, lambda: "cannot be reached" in screen_text(pilot))
        assert "a cashier can sign in" in screen_text(pilot)
        await sign_in(pilot, CASHIER, CASHIER_PIN)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
    member = till.journal.staff_member(MANAGER)
    assert member is not None and member.failed_pins == 0  # not checked, not counted


async def test_a_disabled_member_cannot_sign_in(make: MakeTill) -> None:
    till = make(signed_in=None)
    till.journal.set_disabled(CASHIER, True)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen))
        screen = pilot.app.screen
        assert isinstance(screen, SignInScreen)
        await until(pilot, lambda: bool(screen.ids))
        assert CASHIER not in screen.ids and shown_names(pilot) == ["Max Manager  (manager)"]
        screen.post_message(SignInScreen.SignInRequested(CASHIER, CASHIER_PIN))  # asked anyway
        await until(pilot, lambda: "Disabled" in screen_text(pilot))
        assert till.app.staff_on is None and till.journal.acting_staff is None


async def _refund_pad(pilot, till: Till) -> RefundScreen:  # type: ignore[no-untyped-def]
    await start_sale(pilot, till)
    await pilot.press("t")
    await until(pilot, lambda: till.register.session.state is State.APPROVED)
    await pilot.press("enter")
    await until(pilot, lambda: till.register.session.state is State.IDLE)
    await pilot.press("h")
    await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
    await pilot.press("enter", "f")
    await until(pilot, lambda: isinstance(pilot.app.screen, RefundScreen))
    screen = pilot.app.screen
    assert isinstance(screen, RefundScreen)
    screen.query_one(Input).value = ADDRESS
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, PinPadScreen))
    return screen


async def test_a_cashier_cannot_complete_a_refund_without_a_manager_pin(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        screen = await _refund_pad(pilot, till)
        pad = pilot.app.screen
        assert isinstance(pad, PinPadScreen)
        assert [m.staff_id for m in pad.managers] == [MANAGER]  # only managers approve
        await approve(pilot, MANAGER, CASHIER_PIN)  # the cashier's own PIN
        await until(pilot, lambda: "Wrong PIN" in screen_text(pilot))
        assert isinstance(pilot.app.screen, PinPadScreen)  # still asking
        await pilot.press("escape")
        await until(pilot, lambda: "Not sent" in str(screen.query_one("#refund-state").render()))
    assert not till.backend.store.fetch_all("SELECT * FROM refunds")
    [refused] = till.journal.refunds()
    assert refused.state == "failed" and refused.refund_id is None
    assert ("approval_refused", CASHIER, MANAGER) in trail(till)
    # the PIN went to the backend inside the signed refund request only, never into the journal
    assert any(
        p.endswith("/refunds") and b.get("approval", {}).get("pin") == CASHIER_PIN for p, b in till.staff.seen
    )


async def test_a_managers_pin_approves_a_refund_and_the_audit_shows_both_people(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        screen = await _refund_pad(pilot, till)
        await approve(pilot, MANAGER, MANAGER_PIN)
        await until(pilot, lambda: "✔ refund" in str(screen.query_one("#refund-state").render()))
        assert "approved by s_max" in str(screen.query_one("#refund-state").render())
    [refund] = till.journal.refunds()
    assert (refund.staff_id, refund.approved_by, refund.state) == (CASHIER, MANAGER, "completed")
    assert ("refund_settled", CASHIER, MANAGER) in trail(till)
    assert ("approved", CASHIER, MANAGER) in trail(till)
    [row] = [dict(r) for r in till.backend.store.fetch_all("SELECT * FROM refunds")]
    assert row["refund_id"] == refund.refund_id
    report = till.register.daily_report()
    by = {t.staff_id: t for t in report.staff}
    assert by[CASHIER].sales == 1 and by[CASHIER].refunds == 1 and by[MANAGER].approvals == 1


async def test_an_unknown_outcome_is_cancelled_by_hand_only_with_a_managers_pin(make: MakeTill) -> None:
    till = make()
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        await start_sale(pilot, till)
        till.transport.drop_next_answers = 1  # the payment's answer is lost ...
        till.transport.refuse = lambda r: (
            r.method == "GET" and r.url.path.endswith("/payments")
        )  # ... and asking fails
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.UNKNOWN_OUTCOME)
        await until(pilot, lambda: isinstance(pilot.app.screen, ResultScreen))
        reference = till.register.view.reference or ""
        till.transport.refuse = lambda r: False  # the backend is back; the circuit breaker lets a try through
        till.clock.advance(11)
        await pilot.pause()
        # the widest footer: the print key, the hand-cancel and the switch of user fit 80 columns
        assert {"P Print", "x Cancel by hand", "u User"} <= set(footer_keys(pilot))
        await pilot.press("x")
        await approve(pilot, MANAGER, "0000")
        await until(pilot, lambda: "Wrong PIN" in screen_text(pilot))
        sale = till.journal.get(reference)
        assert sale is not None and sale.state == "unknown_outcome"
        await approve(pilot, MANAGER, MANAGER_PIN)
        await until(pilot, lambda: till.register.session.state is State.IDLE)
    sale = till.journal.get(reference)
    assert sale is not None and sale.state == "cancelled"
    assert "approved by s_max" in (dict(till.journal.timeline(reference))["cancelled"] or "")
    verifies = [b for p, b in till.staff.seen if p.endswith("/verify")]
    assert [b["purpose"] for b in verifies] == ["cancel", "cancel"]
    assert ("approved", CASHIER, MANAGER) in trail(till)


async def test_turning_offline_mode_on_needs_a_managers_pin_and_survives_a_restart(tmp_path: Path) -> None:
    till = make_till(tmp_path)
    try:
        async with till.app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: till.register.backend.connected is True)
            assert till.register.settings.offline.enabled is False
            await pilot.press("s")
            await until(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen))
            await pilot.press("o")
            await until(pilot, lambda: isinstance(pilot.app.screen, PinPadScreen))
            assert "offline.enabled → on" in screen_text(pilot)
            await pilot.press("escape")  # no PIN, no change
            await until(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen))
            assert till.register.settings.offline.enabled is False
            await pilot.press("o")
            await approve(pilot, MANAGER, MANAGER_PIN)
            await until(pilot, lambda: till.register.settings.offline.enabled is True)
            assert till.register.core.offline.enabled is True
            await pilot.press("m")
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "SettingValueScreen")
            pilot.app.screen.query_one(Input).value = "abc"
            await pilot.press("enter")
            await until(pilot, lambda: "not an amount" in screen_text(pilot))  # refused before any PIN
            pilot.app.screen.query_one(Input).value = "25.00"
            await pilot.press("enter")
            await approve(pilot, MANAGER, MANAGER_PIN)
            await until(pilot, lambda: till.register.settings.offline.max_payment["EUR"] == "25.00")
        verifies = [b["purpose"] for p, b in till.staff.seen if p.endswith("/verify")]
        assert verifies == ["offline", "offline"]
        changes = [
            (r.subject, r.approver_id, r.detail)
            for r in till.journal.audit_trail(events=("setting_changed",))
        ]
        assert changes == [
            ("offline.enabled", MANAGER, "off → on"),
            ("offline.max_payment", MANAGER, "50.00 → 25.00"),
        ]
    finally:
        till.close()
    again = make_till(tmp_path)
    try:
        assert again.register.settings.offline.enabled is True
        assert again.register.core.offline.enabled is True
        assert again.register.loaded.source_of("offline.enabled").startswith("till: s_max")
    finally:
        again.close()

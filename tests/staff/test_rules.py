"""The pure staff rules: PIN format, ids and names, the lockout schedule, the idle timer."""

from __future__ import annotations

import pytest

from terminal.staff.rules import (
    Attempts,
    IdleTimer,
    StaffRuleError,
    after_right_pin,
    after_wrong_pin,
    check_name,
    check_pin,
    check_role,
    check_staff_id,
    locked_until_text,
    lockout_s,
    new_staff_id,
)
from tests.foundation.test_layering import DOMAIN_FORBIDDEN, REPO, forbidden, imports_of


@pytest.mark.parametrize("pin", ["1234", "00000000", "9081726"])
def test_a_pin_is_four_to_eight_ascii_digits(pin: str) -> None:
    assert check_pin(pin) == pin


@pytest.mark.parametrize(
    "pin", ["", "123", "123456789", "12a4", "１２３４", "1234\n", " 1234", "12 34", "٣٣٣٣"]
)
def test_anything_else_is_not_a_pin_and_the_message_does_not_repeat_it(pin: str) -> None:
    with pytest.raises(StaffRuleError) as caught:
        check_pin(pin)
    assert "4 to 8 digits" in str(caught.value)
    assert not pin.strip() or pin.strip() not in str(caught.value)


def test_ids_names_and_roles() -> None:
    assert check_staff_id("s_abc.DEF-1") == "s_abc.DEF-1"
    for bad in ("", "a b", "x" * 65, "é"):
        with pytest.raises(StaffRuleError):
            check_staff_id(bad)
    assert check_name("  Ana  ") == "Ana"
    for bad in ("", "   ", "x" * 41, "Ana\u202eevil", "Bo\x07b"):
        with pytest.raises(StaffRuleError):
            check_name(bad)
    assert check_role("manager") == "manager"
    with pytest.raises(StaffRuleError, match="cashier, manager"):
        check_role("owner")
    made = new_staff_id(bytes(range(7)))
    assert made.startswith("s_") and len(made) == 12 and check_staff_id(made) == made


def test_five_wrong_in_a_row_lock_out_with_a_growing_delay_capped_at_an_hour() -> None:
    assert [lockout_s(n) for n in range(1, 10)] == [0, 0, 0, 0, 30, 60, 120, 240, 480]
    assert lockout_s(12) == 3600 and lockout_s(400) == 3600
    a = Attempts()
    now = 1000.0
    for n in range(1, 5):
        a = after_wrong_pin(a, now)
        assert a.failures == n and a.locked_until is None and a.locked_for(now) == 0
        assert a.tries_left == 5 - n
    a = after_wrong_pin(a, now)
    assert a.locked_until == now + 30 and a.locked_for(now + 10) == 20 and a.locked_for(now + 31) == 0
    assert a.tries_left == 0
    a = after_wrong_pin(a, now + 31)  # the sixth wrong one, after the first lockout ended
    assert a.locked_until == now + 31 + 60
    assert after_right_pin() == Attempts()
    assert (
        locked_until_text(30) == "30 s"
        and locked_until_text(240) == "4 min"
        and locked_until_text(7200) == "2 h"
    )


def test_the_idle_timer_follows_the_injected_clock() -> None:
    now = [0.0]
    timer = IdleTimer(900, lambda: now[0])
    now[0] = 899.0
    assert not timer.expired() and timer.remaining() == 1.0
    timer.touch()
    now[0] = 899.0 + 899.0
    assert not timer.expired()
    now[0] = 899.0 + 900.0
    assert timer.expired() and timer.remaining() == 0.0
    with pytest.raises(ValueError):
        IdleTimer(0, lambda: 0.0)


@pytest.mark.parametrize("path", ["terminal/staff/rules.py", "terminal/domain/pins.py"])
def test_the_rules_and_the_hashes_do_no_io(path: str) -> None:
    banned = DOMAIN_FORBIDDEN | {"terminal.staff.desk", "os", "pathlib", "asyncio"}
    assert forbidden(imports_of(REPO / path), banned) == set()

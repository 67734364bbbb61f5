"""The rules of staff at the till, as pure functions: no I/O, no clock reads (time comes in as
an argument or an injected clock), so they are tested without a database or a screen.

* A PIN is 4 to 8 ASCII digits. Nothing else is a PIN, so a typo is refused before it can
  count as a wrong PIN.
* Five wrong PINs in a row lock that person out: 30 s after the fifth, doubling with each
  further wrong PIN, capped at an hour. A right PIN resets the count. The backend counts a
  manager's PINs by the same schedule (docs/api.md).
* The till locks after ``idle_lock_s`` without a key press (:class:`IdleTimer`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from terminal.domain.text import describe_unsafe, find_unsafe

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 8
MAX_WRONG_PINS = 5  # in a row; the fifth locks
FIRST_LOCKOUT_S = 30.0
MAX_LOCKOUT_S = 3600.0
NAME_MAX = 40
STAFF_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_STAFF_ID = re.compile(STAFF_ID_PATTERN)
_PIN = re.compile(f"^[0-9]{{{PIN_MIN_DIGITS},{PIN_MAX_DIGITS}}}$")

Role = Literal["cashier", "manager"]
ROLES: tuple[Role, ...] = ("cashier", "manager")
# what a manager's PIN is asked for at the till (POST /payments/v2/staff/verify "purpose");
# a refund's approval travels inside the refund itself
Purpose = Literal["sign-in", "settings", "cancel", "offline"]
PURPOSES: tuple[Purpose, ...] = ("sign-in", "settings", "cancel", "offline")


class StaffRuleError(ValueError):
    """A PIN, id, name or role that breaks the rules; the message says which rule."""


def check_pin(pin: str) -> str:
    """``pin`` when it is 4 to 8 ASCII digits. The message never repeats the PIN."""
    if not _PIN.fullmatch(pin):
        raise StaffRuleError(f"a PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits (0-9), nothing else")
    return pin


def check_staff_id(staff_id: str) -> str:
    if not _STAFF_ID.fullmatch(staff_id):
        raise StaffRuleError(f"staff id {staff_id[:70]!r} must be 1 to 64 letters, digits, '_', '.' or '-'")
    return staff_id


def check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise StaffRuleError("a name cannot be empty")
    if len(cleaned) > NAME_MAX:
        raise StaffRuleError(f"a name is at most {NAME_MAX} characters; this one has {len(cleaned)}")
    bad = find_unsafe(cleaned)
    if bad is not None:
        raise StaffRuleError(f"a name cannot hold {describe_unsafe(bad[1])} (at {bad[0]})")
    return cleaned


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise StaffRuleError(f"role {role!r} is not one of {', '.join(ROLES)}")


def new_staff_id(random10: bytes) -> str:
    """``s_`` and 10 base32 characters from 50 random bits (``random10``: at least 7 bytes)."""
    if len(random10) < 7:
        raise ValueError("need at least 7 random bytes")
    return "s_" + base64.b32encode(random10[:7]).decode().lower()[:10]


# -- wrong PINs and lockout -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempts:
    """One person's wrong PINs in a row, and until when they are locked out (epoch seconds)."""

    failures: int = 0
    locked_until: float | None = None

    def locked_for(self, now: float) -> float:
        """Seconds of lockout left at ``now`` (0 when not locked)."""
        if self.locked_until is None:
            return 0.0
        return max(0.0, self.locked_until - now)

    @property
    def tries_left(self) -> int:
        """PINs that may still be tried before a lockout (the last of them locks when wrong)."""
        return max(0, MAX_WRONG_PINS - self.failures)


def lockout_s(failures: int) -> float:
    """How long ``failures`` wrong PINs in a row lock someone out: none before the fifth, then
    30 s, doubling with each further one, at most an hour."""
    if failures < MAX_WRONG_PINS:
        return 0.0
    doublings = min(failures - MAX_WRONG_PINS, 16)
    return min(FIRST_LOCKOUT_S * float(2**doublings), MAX_LOCKOUT_S)


def after_wrong_pin(attempts: Attempts, now: float) -> Attempts:
    failures = attempts.failures + 1
    delay = lockout_s(failures)
    return Attempts(failures, now + delay if delay else None)


def after_right_pin() -> Attempts:
    return Attempts()


def locked_until_text(seconds: float) -> str:
    """``30 s``, ``2 min``, ``1 h`` for a cashier to read."""
    s = max(1, round(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{round(s / 60)} min"
    return f"{round(s / 3600)} h"


# -- idle lock ------------------------------------------------------------------------------------


class IdleTimer:
    """When the till locks: ``limit_s`` after the last key press. The clock is injected."""

    def __init__(self, limit_s: float, clock: Callable[[], float]) -> None:
        if limit_s <= 0:
            raise ValueError("the idle limit must be positive")
        self.limit_s = limit_s
        self._clock = clock
        self.last_activity = clock()

    def touch(self) -> None:
        self.last_activity = self._clock()

    def remaining(self) -> float:
        return max(0.0, self.last_activity + self.limit_s - self._clock())

    def expired(self) -> bool:
        return self._clock() - self.last_activity >= self.limit_s

"""Staff in the ledger: who may approve money out, their PINs as salted hashes, their lockout.

The roster is merchant-wide (one ledger is one merchant's). A manager's PIN lives here only, as
a salted scrypt hash (``pins.py``); the till never has it. Every wrong PIN for a manager counts
in the ledger, so the count survives restarts and is shared by every instance: after
:data:`MAX_FAILED` in a row the manager is locked for 30 s, and each further wrong PIN after a
lock ends doubles it, up to an hour; a right PIN clears the count.

Checking a PIN is slow on purpose (tens of milliseconds), too slow for a write transaction that
holds SQLite's one write lock or a row lock. So a check is two steps: :func:`precheck` computes
the hash outside any transaction; :func:`settle` then runs inside the caller's transaction,
locks the member's row, and counts the outcome, using the precomputed answer when the stored hash
is still the one it was computed against (a PIN reset in between is checked again, in place).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from backend_stub.store.ledger import Store
from backend_stub.store.sql import Row, Tx
from terminal.domain.pins import decoy, hash_pin, valid_pin, verify_pin
from terminal.domain.text import find_unsafe

__all__ = [
    "MAX_FAILED",
    "Checked",
    "Outcome",
    "StaffError",
    "StaffMember",
    "add_staff",
    "check_name",
    "disable_staff",
    "list_staff",
    "lock_seconds",
    "precheck",
    "reset_pin",
    "settle",
    "verify",
]

STAFF_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ROLES = ("cashier", "manager")
MAX_NAME = 40
MAX_FAILED = 5
FIRST_LOCK_S = 30.0
MAX_LOCK_S = 3600.0
Role = Literal["cashier", "manager"]


class StaffError(ValueError):
    """A request about staff the ledger refuses (a bad id, name, role or PIN; an unknown or
    duplicate member). The message never holds a PIN."""


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A member as the ledger has them (no PIN, no hash)."""

    staff_id: str
    name: str
    role: Role
    disabled: bool
    has_pin: bool
    failed: int
    locked_until: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Checked:
    """A PIN checked outside a transaction against the hash the ledger had then."""

    staff_id: str
    stored: str | None  # the hash it was checked against (None: the decoy, no such member)
    matched: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a PIN given for an approval came to. ``invalid`` covers a wrong PIN, an unknown id, a
    disabled member and a cashier alike, so the answer does not tell which."""

    result: Literal["ok", "invalid", "locked"]
    member: StaffMember | None = None
    locked_until: float | None = None


def lock_seconds(failed: int) -> float:
    """How long a manager is locked after ``failed`` wrong PINs in a row (0 below the limit)."""
    if failed < MAX_FAILED:
        return 0.0
    return min(MAX_LOCK_S, FIRST_LOCK_S * float(2 ** min(failed - MAX_FAILED, 16)))


def new_staff_id() -> str:
    """``s_`` and 10 base32 characters (50 random bits)."""
    return "s_" + base64.b32encode(secrets.token_bytes(7)).decode().lower()[:10]


def check_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > MAX_NAME:
        raise StaffError(f"a name is 1 to {MAX_NAME} characters")
    if find_unsafe(text) is not None:
        raise StaffError("a name cannot hold control or bidi characters")
    return text


def _check(staff_id: str | None, role: str, pin: str | None) -> None:
    if staff_id is not None and not STAFF_ID.fullmatch(staff_id):
        raise StaffError("a staff id is 1 to 64 of A-Z a-z 0-9 _ . -")
    if role not in ROLES:
        raise StaffError(f"role {role!r} is neither cashier nor manager")
    if pin is not None and not valid_pin(pin):
        raise StaffError("a PIN is 4 to 8 digits")
    if role == "manager" and pin is None:
        raise StaffError("a manager needs a PIN: the backend checks their approvals with it")


def _member(row: Row) -> StaffMember:
    return StaffMember(
        str(row["staff_id"]),
        str(row["name"]),
        "manager" if row["role"] == "manager" else "cashier",
        row["disabled_at"] is not None,
        row["pin_hash"] is not None,
        int(row["failed"]),
        None if row["locked_until"] is None else float(row["locked_until"]),
        float(row["created_at"]),
    )


def add_staff(
    store: Store,
    *,
    name: str,
    role: str,
    pin: str | None,
    now: float,
    staff_id: str | None = None,
    replace: bool = False,
) -> str:
    """A new member (an id is made unless given); returns the id. An id in use is refused
    unless ``replace`` (the test mode's ``POST /test/staff``): then the member is made anew,
    enabled, with a clear count."""
    _check(staff_id, role, pin)
    clean = check_name(name)
    sid = staff_id or new_staff_id()
    hashed = hash_pin(pin) if pin is not None else None

    def add(tx: Tx) -> None:
        if replace:
            tx.execute("DELETE FROM staff WHERE staff_id = ?", (sid,))
        elif tx.execute("SELECT 1 FROM staff WHERE staff_id = ?", (sid,)).fetchone() is not None:
            raise StaffError(f"staff id {sid} is taken")
        tx.execute(
            "INSERT INTO staff (staff_id, name, role, pin_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (sid, clean, role, hashed, now, now),
        )

    store.transaction(add)
    return sid


def list_staff(store: Store) -> list[StaffMember]:
    return [_member(r) for r in store.fetch_all("SELECT * FROM staff ORDER BY name, staff_id", ())]


def _change(store: Store, staff_id: str, sql: str, args: tuple[object, ...]) -> None:
    def change(tx: Tx) -> None:
        if tx.execute(sql, args).rowcount != 1:
            raise StaffError(f"no staff member {staff_id}")

    store.transaction(change)


def disable_staff(store: Store, staff_id: str, *, now: float) -> None:
    """From now on the member's PIN approves nothing (a disabled member stays on record:
    refunds name them)."""
    _change(
        store,
        staff_id,
        "UPDATE staff SET disabled_at = COALESCE(disabled_at, ?), updated_at = ? WHERE staff_id = ?",
        (now, now, staff_id),
    )


def reset_pin(store: Store, staff_id: str, pin: str, *, now: float) -> None:
    """A new PIN; it clears the wrong-PIN count and any lockout."""
    if not valid_pin(pin):
        raise StaffError("a PIN is 4 to 8 digits")
    _change(
        store,
        staff_id,
        "UPDATE staff SET pin_hash = ?, failed = 0, locked_until = NULL, updated_at = ? WHERE staff_id = ?",
        (hash_pin(pin), now, staff_id),
    )


def precheck(store: Store, staff_id: str, pin: str, *, now: float) -> Checked | Outcome:
    """The slow half of a check, outside any transaction. An :class:`Outcome` when the answer
    is known without the PIN (locked now: the PIN is not even looked at); else what the PIN
    came to against the hash the ledger holds now. An unknown id is checked against a decoy,
    so it takes as long to refuse as a wrong PIN."""
    row = store.fetch_one("SELECT * FROM staff WHERE staff_id = ?", (staff_id,))
    if row is not None and row["locked_until"] is not None and float(row["locked_until"]) > now:
        return Outcome("locked", _member(row), float(row["locked_until"]))
    stored = None if row is None else row["pin_hash"]
    matched = verify_pin(pin, stored if stored is not None else decoy())
    return Checked(staff_id, stored, matched and stored is not None)


def settle(tx: Tx, checked: Checked | Outcome, pin: str, *, now: float) -> Outcome:
    """Count a checked PIN in the member's row, inside the caller's transaction (it commits
    with whatever the approval was for, or alone). Only an enabled manager's right PIN is
    ``ok``; a wrong PIN for a manager counts toward the lockout, and the one that reaches
    :data:`MAX_FAILED` answers ``locked`` at once."""
    if isinstance(checked, Outcome):
        return checked
    row = tx.execute(
        "SELECT * FROM staff WHERE staff_id = ?" + tx.for_update,  # noqa: S608 - a fixed suffix
        (checked.staff_id,),
    ).fetchone()
    if row is None or row["role"] != "manager" or row["pin_hash"] is None:
        return Outcome("invalid")
    member = _member(row)
    if member.locked_until is not None and member.locked_until > now:
        # another request locked them meanwhile: no answer to this guess either
        return Outcome("locked", member, member.locked_until)
    stored = str(row["pin_hash"])
    matched = checked.matched if stored == checked.stored else verify_pin(pin, stored)
    if member.disabled:
        return Outcome("invalid")
    if matched:
        if member.failed or member.locked_until is not None:
            tx.execute(
                "UPDATE staff SET failed = 0, locked_until = NULL WHERE staff_id = ?", (member.staff_id,)
            )
        return Outcome("ok", member)
    failed = member.failed + 1
    lock = lock_seconds(failed)
    until = now + lock if lock else None
    tx.execute(
        "UPDATE staff SET failed = ?, locked_until = ? WHERE staff_id = ?", (failed, until, member.staff_id)
    )
    return Outcome("locked", member, until) if until is not None else Outcome("invalid")


def verify(store: Store, staff_id: str, pin: str, *, now: float) -> Outcome:
    """:func:`precheck` then :func:`settle` in a transaction of its own (``/staff/verify``)."""
    checked = precheck(store, staff_id, pin, now=now)
    settled: Callable[[Tx], Outcome] = lambda tx: settle(tx, checked, pin, now=now)  # noqa: E731
    return store.transaction(settled)

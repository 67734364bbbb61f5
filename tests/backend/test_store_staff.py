"""Staff in the ledger, the same on SQLite and on a real PostgreSQL server: members and their
PIN hashes, the wrong-PIN count and its growing lockout (kept across a restart, exact under
concurrent guesses), the refunds-by-terminal-per-day total, and migration 3 over a ledger that
has refunds already."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from backend_stub.store import Store, Tx, staff
from backend_stub.store import schema as schema_mod
from terminal.domain.pins import hash_pin, verify_pin
from tests.pg import Ledger
from tests.support import shows

NOW = 1_800_000_000.0


@pytest.fixture
def store(ledger_spec: Ledger):  # type: ignore[no-untyped-def]
    s = ledger_spec.open()
    yield s
    s.close()


def test_a_pin_is_kept_only_as_a_salted_slow_hash() -> None:
    a, b = hash_pin("1357"), hash_pin("1357")
    assert a != b and not shows("1357", a)  # a salt of its own each time
    assert a.startswith("scrypt$16384$8$1$")
    assert verify_pin("1357", a) and not verify_pin("1358", a) and not verify_pin("abcd", a)


def test_members_are_added_listed_disabled_and_given_new_pins(store: Store) -> None:
    sid = staff.add_staff(store, name="  Max Manager ", role="manager", pin="1357", now=NOW)
    assert sid.startswith("s_") and len(sid) == 12
    staff.add_staff(store, name="Cass", role="cashier", pin=None, now=NOW, staff_id="s_cass")
    members = {m.staff_id: m for m in staff.list_staff(store)}
    assert members[sid].name == "Max Manager" and members[sid].role == "manager" and members[sid].has_pin
    assert members["s_cass"].role == "cashier" and not members["s_cass"].has_pin
    row = store.fetch_one("SELECT pin_hash FROM staff WHERE staff_id = ?", (sid,))
    assert row is not None and not shows("1357", str(row["pin_hash"]))
    with pytest.raises(staff.StaffError, match="taken"):
        staff.add_staff(store, name="Other", role="cashier", pin=None, now=NOW, staff_id="s_cass")
    for bad in (
        {"name": "", "role": "manager", "pin": "1357"},
        {"name": "Eve\u202e", "role": "manager", "pin": "1357"},
        {"name": "x" * 41, "role": "manager", "pin": "1357"},
        {"name": "Eve", "role": "owner", "pin": "1357"},
        {"name": "Eve", "role": "manager", "pin": "123"},
        {"name": "Eve", "role": "manager", "pin": "12345678a"},
        {"name": "Eve", "role": "manager", "pin": None},
    ):
        with pytest.raises(staff.StaffError) as caught:
            staff.add_staff(store, now=NOW, **bad)  # type: ignore[arg-type]
        assert not shows("1357", str(caught.value))
    staff.disable_staff(store, sid, now=NOW + 1)
    assert staff.verify(store, sid, "1357", now=NOW + 2).result == "invalid"
    with pytest.raises(staff.StaffError, match="no staff member"):
        staff.disable_staff(store, "s_nobody", now=NOW)
    staff.reset_pin(store, "s_cass", "2468", now=NOW)
    assert [m.has_pin for m in staff.list_staff(store) if m.staff_id == "s_cass"] == [True]


def test_five_wrong_pins_lock_a_manager_with_a_growing_delay_that_survives_a_restart(
    ledger_spec: Ledger,
) -> None:
    store = ledger_spec.open()
    sid = staff.add_staff(store, name="Max", role="manager", pin="1357", now=NOW)
    try:
        outcomes = [staff.verify(store, sid, "0000", now=NOW + i).result for i in range(5)]
        assert outcomes == ["invalid"] * 4 + ["locked"]
        locked = staff.verify(store, sid, "1357", now=NOW + 10)  # the right PIN is not looked at
        assert (locked.result, locked.locked_until) == ("locked", NOW + 4 + 30)
    finally:
        store.close()
    store = ledger_spec.open()  # a restart: the count is in the ledger
    try:
        assert staff.verify(store, sid, "1357", now=NOW + 20).result == "locked"
        again = staff.verify(store, sid, "9999", now=NOW + 40)  # the lock is over: one more wrong
        assert (again.result, again.locked_until) == ("locked", NOW + 40 + 60)  # doubled
        assert staff.lock_seconds(5 + 20) == staff.MAX_LOCK_S
        assert staff.verify(store, sid, "1357", now=NOW + 101).result == "ok"
        [member] = staff.list_staff(store)
        assert (member.failed, member.locked_until) == (0, None)  # a right PIN clears it
        staff.verify(store, sid, "0000", now=NOW + 200)
        staff.reset_pin(store, sid, "2468", now=NOW + 201)
        [member] = staff.list_staff(store)
        assert member.failed == 0 and staff.verify(store, sid, "2468", now=NOW + 202).result == "ok"
    finally:
        store.close()


def test_concurrent_wrong_guesses_are_each_counted_and_none_gets_past_the_lock(store: Store) -> None:
    sid = staff.add_staff(store, name="Max", role="manager", pin="1357", now=NOW)
    guesses = [f"{n:04d}" for n in range(2000, 2012)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda pin: staff.verify(store, sid, pin, now=NOW).result, guesses))
    # the fifth locks; every guess judged after it is answered "locked", uncounted
    assert (outcomes.count("invalid"), outcomes.count("locked")) == (4, 8)
    [member] = staff.list_staff(store)
    assert member.locked_until == NOW + 30 and member.failed == 5


def test_refunds_by_terminal_per_day(store: Store) -> None:
    day = 1_795_996_800.0  # 2026-11-30T00:00:00Z

    def add(tx: Tx, rid: str, terminal: str, fiat: int, currency: str, at: float) -> None:
        tx.execute(
            "INSERT INTO refunds (refund_id, payment_id, amount_minor, to_address, status, created_at, "
            "terminal_id, fiat_minor, fiat_currency) VALUES (?, 'p', '1', 'a', 'completed', ?, ?, ?, ?)",
            (rid, at, terminal, fiat, currency),
        )

    rows: list[tuple[Any, ...]] = [
        ("a", "t1", 100, "EUR", day - 1),  # yesterday
        ("b", "t1", 250, "EUR", day),
        ("c", "t1", 300, "EUR", day + 86_399),
        ("d", "t1", 999, "USD", day + 10),  # another currency
        ("e", "t2", 777, "EUR", day + 10),  # another terminal
        ("f", "t1", 5, "EUR", day + 86_400),  # tomorrow
    ]
    store.transaction(lambda tx: [add(tx, *r) for r in rows])
    total = store.query(lambda tx: Store.refunded_fiat(tx, "t1", "EUR", since=day, until=day + 86_400))
    assert total == 550
    assert store.query(lambda tx: Store.refunded_fiat(tx, "t3", "EUR", since=day, until=day + 86_400)) == 0


def test_migration_3_values_the_refunds_made_before_it(
    ledger_spec: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema_mod, "MIGRATIONS", schema_mod.MIGRATIONS[:2])
    monkeypatch.setattr(schema_mod, "CURRENT", 2)
    old = ledger_spec.open()
    try:
        old.transaction(
            lambda tx: (
                tx.execute(
                    "INSERT INTO payments (payment_id, terminal_id, reference, quote_id, method, asset, "
                    "amount_minor, fiat_minor, fiat_currency, status, refunded_minor, created_at, updated_at, "
                    "seq) VALUES ('p1', 'term-9', 'r', 'q', 'card', 'BTC', '3000', 1000, 'EUR', 'approved', "
                    "'1001', 1, 1, 1)"
                ),
                tx.execute(
                    "INSERT INTO refunds (refund_id, payment_id, amount_minor, to_address, status, created_at) "
                    "VALUES ('r1', 'p1', '1001', 'a', 'completed', 2)"
                ),
            )
        )
    finally:
        old.close()
    monkeypatch.undo()
    new = ledger_spec.open()
    try:
        assert new.schema_version() == schema_mod.CURRENT >= 3
        row = new.fetch_one("SELECT terminal_id, fiat_minor, fiat_currency, approved_by FROM refunds", ())
        assert row is not None
        # 1000 * 1001 / 3000 = 333.67: valued up, never below its share
        assert (row["terminal_id"], row["fiat_minor"], row["fiat_currency"], row["approved_by"]) == (
            "term-9",
            334,
            "EUR",
            None,
        )
    finally:
        new.close()


def test_an_unknown_id_is_checked_against_a_decoy_like_a_wrong_pin(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So an unknown id takes as long to refuse as a known one: no shortcut tells them apart."""
    sid = staff.add_staff(store, name="Max", role="manager", pin="1357", now=NOW)
    checked: list[str] = []
    real = staff.verify_pin

    def spy(pin: str, stored: str) -> bool:
        checked.append(stored)
        return real(pin, stored)

    monkeypatch.setattr(staff, "verify_pin", spy)
    assert staff.verify(store, "s_nobody", "1357", now=NOW).result == "invalid"
    assert staff.verify(store, sid, "0000", now=NOW).result == "invalid"
    assert len(checked) == 2 and checked[0] == staff.decoy() and checked[1].startswith("scrypt$")


def test_a_terminals_refunds_take_turns_from_reading_the_days_total_to_the_commit(store: Store) -> None:
    """What keeps two refunds of different payments from both fitting in the daily limit: while
    one holds the terminal's refund lock, another refund of that terminal waits for its commit,
    and then reads the total with the first one in it."""
    holding, release, second_in = threading.Event(), threading.Event(), threading.Event()
    seen: list[int] = []

    def first(tx: Tx) -> None:
        Store.lock_terminal_refunds(tx, "t1")
        tx.execute(
            "INSERT INTO refunds (refund_id, payment_id, amount_minor, to_address, status, created_at, "
            "terminal_id, fiat_minor, fiat_currency) VALUES ('r1', 'p', '1', 'a', 'completed', 5, 't1', 700, 'EUR')"
        )
        holding.set()
        assert release.wait(30)

    def second(tx: Tx) -> None:
        Store.lock_terminal_refunds(tx, "t1")
        second_in.set()
        seen.append(Store.refunded_fiat(tx, "t1", "EUR", since=0, until=10))

    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(store.transaction, first)
        assert holding.wait(30)
        b = pool.submit(store.transaction, second)
        assert not second_in.wait(0.5)  # it waits for the first one's commit
        release.set()
        a.result(30)
        b.result(30)
    assert seen == [700]

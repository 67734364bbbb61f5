"""The journal's staff roster, audit trail and till settings (migration 4)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from terminal.domain.pins import hash_pin
from terminal.journal import MIGRATIONS, Journal, StaffExistsError, UnknownStaffError
from terminal.journal.schema import migrate, statements


class Clock:
    def __init__(self) -> None:
        self.now = 1_773_489_600.0

    def __call__(self) -> float:
        return self.now


def test_a_v2_journal_is_migrated_and_keeps_its_sales(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        for stmt in statements(script):
            db.execute(stmt)
        db.execute(f"PRAGMA user_version={number}")
    db.execute(
        "INSERT INTO sales (reference, idempotency_key, fiat_minor, fiat_currency, asset, state, created_at,"
        " updated_at) VALUES ('r1', 'k1', 100, 'EUR', 'BTC', 'approved', 1, 1)"
    )
    db.close()
    journal = Journal(path)
    try:
        assert journal.schema_version == len(MIGRATIONS) >= 3
        sale = journal.get("r1")
        assert sale is not None and sale.state == "approved" and sale.staff_id is None
    finally:
        journal.close()


def test_a_v3_journal_from_main_gains_staff_and_keeps_tips_and_rates(tmp_path: Path) -> None:
    """Migration 3 (tip and rate) came before staff: a till upgraded from it moves to 4 once."""
    path = tmp_path / "j.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        for stmt in statements(script):
            db.execute(stmt)
        db.execute(f"PRAGMA user_version={number}")
    db.execute(
        "INSERT INTO sales (reference, idempotency_key, fiat_minor, fiat_currency, asset, state, created_at,"
        " updated_at, tip_minor, rate) VALUES ('r1', 'k1', 1320, 'EUR', 'BTC', 'approved', 1, 1, 120, '61234.5')"
    )
    db.close()
    for opened in (1, 2):  # the second open finds nothing left to apply
        journal = Journal(path)
        try:
            assert journal.schema_version == len(MIGRATIONS) == 4
            sale = journal.get("r1")
            assert sale is not None and (sale.tip_minor, sale.rate, sale.staff_id) == (120, "61234.5", None)
            journal.audit("signed_in", staff_id="s_a", detail="cashier")
            assert [r.event for r in journal.audit_trail()] == ["signed_in"] * opened
        finally:
            journal.close()


def test_statements_keep_a_trigger_whole() -> None:
    script = "CREATE TABLE t (a);\nCREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no; never'); END;\n"
    assert statements(script) == [
        "CREATE TABLE t (a);",
        "CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no; never'); END;",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        statements("CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT 1;")
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_the_audit_trail_is_append_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        journal.audit("signed_in", staff_id="s_a", detail="cashier")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            journal._db.execute("UPDATE audit SET staff_id = 's_b'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            journal._db.execute("DELETE FROM audit")
        [row] = journal.audit_trail()
        assert (row.event, row.staff_id) == ("signed_in", "s_a")
        with pytest.raises(ValueError, match="not an audit event"):
            journal.audit("made_up", staff_id=None)
    finally:
        journal.close()


def test_a_manager_pin_hash_is_refused_by_the_database(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            journal.add_staff(staff_id="s_m", name="Max", role="manager", pin_hash=hash_pin("1357"))
        assert journal.staff() == []
    finally:
        journal.close()


def test_roster_changes_sales_and_refunds_carry_who_did_them(tmp_path: Path) -> None:
    clock = Clock()
    journal = Journal(tmp_path / "j.sqlite3", clock=clock)
    try:
        journal.add_staff(staff_id="s_c", name="Cass", role="cashier", pin_hash=hash_pin("2468"))
        with pytest.raises(StaffExistsError):
            journal.add_staff(staff_id="s_c", name="Other", role="cashier", pin_hash=None)
        journal.acting_staff = "s_c"
        journal.open_sale(
            reference="r1", idempotency_key="k1", fiat_minor=1250, fiat_currency="EUR", asset="BTC"
        )
        journal.update("r1", "awaiting_payment")
        journal.update("r1", "approved", payment_id="p1")
        journal.open_refund(
            idempotency_key="rk", payment_id="p1", reference="r1", amount_minor=5, asset="BTC", to="bc1q"
        )
        journal.update_refund("rk", "completed", refund_id="rf1", approved_by="s_m")
        sale = journal.get("r1")
        assert sale is not None and sale.staff_id == "s_c"
        refund = journal.refund("rk")
        assert refund is not None and (refund.staff_id, refund.approved_by) == ("s_c", "s_m")
        trail = [(r.event, r.staff_id, r.approver_id, r.subject) for r in journal.audit_trail()]
        assert trail == [
            ("staff_added", None, None, "s_c"),
            ("sale_settled", "s_c", None, "r1"),
            ("refund_settled", "s_c", "s_m", "p1 rf1"),
        ]
        assert "approved 12.50 EUR in BTC" in (journal.audit_trail()[1].detail or "")
        assert [r.event for r in journal.audit_trail(staff_id="s_m")] == ["refund_settled"]
        with pytest.raises(UnknownStaffError):
            journal.set_disabled("s_nobody", True)
    finally:
        journal.close()


def test_sync_adds_follows_and_disables_what_the_backend_dropped(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        journal.add_staff(staff_id="s_c", name="Cass", role="cashier", pin_hash=hash_pin("2468"))
        first = journal.sync_roster([("s_m", "Max", "manager", False), ("s_n", "Nia", "manager", False)])
        assert first == {"added": ["s_m", "s_n"], "changed": [], "removed": []}
        second = journal.sync_roster([("s_m", "Max B.", "manager", False), ("s_c", "Cass", "manager", False)])
        assert second == {"added": [], "changed": ["s_m", "s_c"], "removed": ["s_n"]}
        by_id = {m.staff_id: m for m in journal.staff()}
        assert by_id["s_m"].name == "Max B." and by_id["s_n"].disabled
        # made a manager by the backend: the till no longer keeps any form of their PIN
        assert by_id["s_c"].role == "manager" and not by_id["s_c"].has_pin and journal.pin_hash("s_c") is None
        assert journal.sync_roster(
            [("s_m", "Max B.", "manager", False), ("s_c", "Cass", "manager", False)]
        ) == {
            "added": [],
            "changed": [],
            "removed": [],
        }
    finally:
        journal.close()

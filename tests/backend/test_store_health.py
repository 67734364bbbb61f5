"""Terminal health in the ledger, the same on SQLite and on a real PostgreSQL server: a heartbeat
replaces its terminal's row (one row per key id), the fleet lists every terminal, and migration
4 adds the table to a ledger made at version 3 without touching what it holds."""

from __future__ import annotations

import pytest

from backend_stub.store import Store, health
from backend_stub.store import schema as schema_mod
from tests.pg import Ledger

NOW = 1_800_000_000.0


@pytest.fixture
def store(ledger_spec: Ledger):  # type: ignore[no-untyped-def]
    s = ledger_spec.open()
    yield s
    s.close()


def beat(
    key_id: str, *, version: str = "1.4.0", queue: int = 0, unknown: int = 0, at: float = NOW
) -> health.TerminalHealth:
    return health.TerminalHealth(
        key_id=key_id,
        version=version,
        readers=(health.ReaderHealth("nfc:usb", "ready"), health.ReaderHealth("camera:0", "lost")),
        queue_depth=queue,
        unknown_outcomes=unknown,
        last_reconcile_at=None if at == NOW else at - 30,
        seen_at=at,
    )


def test_a_heartbeat_replaces_its_terminals_row_and_the_fleet_lists_each_terminal_once(store: Store) -> None:
    assert health.fleet(store) == []
    health.record_heartbeat(store, beat("till-b"))
    health.record_heartbeat(store, beat("till-a", queue=3, unknown=1))
    later = beat("till-b", version="1.5.0", queue=2, unknown=4, at=NOW + 60)
    health.record_heartbeat(store, later)
    fleet = health.fleet(store)
    assert [t.key_id for t in fleet] == ["till-a", "till-b"]
    assert fleet[1] == later  # every field as the last heartbeat said, readers in order
    assert fleet[0].queue_depth == 3 and fleet[0].unknown_outcomes == 1 and fleet[0].last_reconcile_at is None
    assert store.fetch_one("SELECT COUNT(*) AS n FROM terminal_health")["n"] == 2  # type: ignore[index]
    assert fleet[1].as_json()["readers"] == [
        {"device": "nfc:usb", "state": "ready"},
        {"device": "camera:0", "state": "lost"},
    ]


def test_migration_4_adds_terminal_health_to_a_version_3_ledger(
    ledger_spec: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema_mod, "MIGRATIONS", schema_mod.MIGRATIONS[:3])
    monkeypatch.setattr(schema_mod, "CURRENT", 3)
    old = ledger_spec.open()
    try:
        old.add_terminal("till-a", now=NOW, secret=b"s" * 32)
        with pytest.raises(Exception, match="terminal_health"):
            old.fetch_all("SELECT * FROM terminal_health")
    finally:
        old.close()
    monkeypatch.undo()
    new = ledger_spec.open()
    try:
        assert new.schema_version() == schema_mod.CURRENT >= 4
        assert [t.key_id for t in new.list_terminals()] == ["till-a"]  # kept
        health.record_heartbeat(new, beat("till-a"))
        assert [t.key_id for t in health.fleet(new)] == ["till-a"]
    finally:
        new.close()

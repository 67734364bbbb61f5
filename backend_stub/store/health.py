"""Terminal health in the ledger: each till's last heartbeat, one row per terminal key.

A heartbeat replaces the row of its terminal (an upsert), so the table is the fleet as last
seen: which build each till runs, its readers, how many sales it still owes the backend an
answer for, and when it last reconciled. ``cryptopos backend status`` lists it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from backend_stub.store.ledger import Store
from backend_stub.store.sql import Row

__all__ = ["ReaderHealth", "TerminalHealth", "fleet", "record_heartbeat"]


@dataclass(frozen=True, slots=True)
class ReaderHealth:
    device: str
    state: str


@dataclass(frozen=True, slots=True)
class TerminalHealth:
    key_id: str
    version: str
    readers: tuple[ReaderHealth, ...]
    queue_depth: int
    unknown_outcomes: int
    last_reconcile_at: float | None
    seen_at: float

    def as_json(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "version": self.version,
            "readers": [{"device": r.device, "state": r.state} for r in self.readers],
            "queue_depth": self.queue_depth,
            "unknown_outcomes": self.unknown_outcomes,
            "last_reconcile_at": self.last_reconcile_at,
            "seen_at": self.seen_at,
        }


def record_heartbeat(store: Store, beat: TerminalHealth) -> None:
    readers = json.dumps([{"device": r.device, "state": r.state} for r in beat.readers])
    store.transaction(
        lambda tx: tx.execute(
            "INSERT INTO terminal_health (key_id, version, readers, queue_depth, unknown_outcomes, "
            "last_reconcile_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key_id) DO UPDATE SET version = excluded.version, readers = excluded.readers, "
            "queue_depth = excluded.queue_depth, unknown_outcomes = excluded.unknown_outcomes, "
            "last_reconcile_at = excluded.last_reconcile_at, seen_at = excluded.seen_at",
            (
                beat.key_id,
                beat.version,
                readers,
                beat.queue_depth,
                beat.unknown_outcomes,
                beat.last_reconcile_at,
                beat.seen_at,
            ),
        )
    )


def _health(row: Row) -> TerminalHealth:
    last = row["last_reconcile_at"]
    return TerminalHealth(
        key_id=str(row["key_id"]),
        version=str(row["version"]),
        readers=tuple(ReaderHealth(str(r["device"]), str(r["state"])) for r in json.loads(row["readers"])),
        queue_depth=int(row["queue_depth"]),
        unknown_outcomes=int(row["unknown_outcomes"]),
        last_reconcile_at=None if last is None else float(last),
        seen_at=float(row["seen_at"]),
    )


def fleet(store: Store) -> list[TerminalHealth]:
    """Every terminal that has sent a heartbeat, by key id."""
    return [_health(r) for r in store.fetch_all("SELECT * FROM terminal_health ORDER BY key_id")]

"""The sale journal: SQLite in WAL mode with ``synchronous=FULL``.

A sale is written before any network call, and every state change after it, so a
crash at any point leaves a record that ``reconcile`` can settle. Never stores raw
card data: only a SHA-256 of what the customer presented.

Schema versions are numbered migrations applied in order (``PRAGMA user_version``).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS: list[str] = [
    # 1: sales and their state changes
    """
    CREATE TABLE sales (
        reference TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        fiat_minor INTEGER NOT NULL,
        fiat_currency TEXT NOT NULL,
        asset TEXT NOT NULL,
        crypto_minor INTEGER,
        quote_id TEXT,
        payload_hash TEXT,
        state TEXT NOT NULL,
        payment_id TEXT,
        reason TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE sale_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        reference TEXT NOT NULL REFERENCES sales(reference),
        state TEXT NOT NULL,
        detail TEXT,
        at REAL NOT NULL
    );
    CREATE INDEX sales_state ON sales(state);
    """,
]


@dataclass(frozen=True, slots=True)
class SaleRecord:
    reference: str
    idempotency_key: str
    fiat_minor: int
    fiat_currency: str
    asset: str
    crypto_minor: int | None
    quote_id: str | None
    payload_hash: str | None
    state: str
    payment_id: str | None
    reason: str | None
    created_at: float
    updated_at: float


def payload_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


class Journal:
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in filter(str.strip, script.split(";")):
                    self._db.execute(stmt)
                self._db.execute(f"PRAGMA user_version={number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def open_sale(
        self, *, reference: str, idempotency_key: str, fiat_minor: int, fiat_currency: str, asset: str
    ) -> None:
        now = self._clock()
        with self._tx():
            self._db.execute(
                "INSERT INTO sales (reference, idempotency_key, fiat_minor, fiat_currency, asset, state,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'amount_entered', ?, ?)",
                (reference, idempotency_key, fiat_minor, fiat_currency, asset, now, now),
            )
            self._event(reference, "amount_entered", None, now)

    def update(self, reference: str, state: str, *, detail: str | None = None, **fields: object) -> None:
        allowed = {"crypto_minor", "quote_id", "payload_hash", "payment_id", "reason", "idempotency_key"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not journal fields: {sorted(bad)}")
        now = self._clock()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx():
            cur = self._db.execute(
                # the column names come from the allow-list above, values are placeholders
                f"UPDATE sales SET state = ?, updated_at = ?{', ' + sets if sets else ''}"  # noqa: S608
                " WHERE reference = ?",
                (state, now, *fields.values(), reference),
            )
            if cur.rowcount != 1:
                raise KeyError(f"no sale {reference!r} in the journal")
            self._event(reference, state, detail, now)

    def get(self, reference: str) -> SaleRecord | None:
        row = self._db.execute("SELECT * FROM sales WHERE reference = ?", (reference,)).fetchone()
        return SaleRecord(**dict(row)) if row else None

    def sales(self, *, states: tuple[str, ...] | None = None) -> list[SaleRecord]:
        if states:
            marks = ",".join("?" * len(states))
            rows = self._db.execute(
                f"SELECT * FROM sales WHERE state IN ({marks}) ORDER BY created_at",  # noqa: S608 - placeholders only
                states,
            )
        else:
            rows = self._db.execute("SELECT * FROM sales ORDER BY created_at")
        return [SaleRecord(**dict(r)) for r in rows]

    def events(self, reference: str) -> list[str]:
        rows = self._db.execute("SELECT state FROM sale_events WHERE reference = ? ORDER BY id", (reference,))
        return [r[0] for r in rows]

    def _event(self, reference: str, state: str, detail: str | None, at: float) -> None:
        self._db.execute(
            "INSERT INTO sale_events (reference, state, detail, at) VALUES (?, ?, ?, ?)",
            (reference, state, detail, at),
        )

    def _tx(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")

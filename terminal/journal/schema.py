"""The journal's schema: numbered migrations applied in order (``PRAGMA user_version``), and
which sale states are final."""

from __future__ import annotations

import sqlite3

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
    # 2: offline queue, replay guards, refunds, backend notices
    """
    ALTER TABLE sales ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sales ADD COLUMN queue_seq INTEGER;
    ALTER TABLE sales ADD COLUMN payload TEXT;
    ALTER TABLE sales ADD COLUMN payload_kind TEXT;
    ALTER TABLE sales ADD COLUMN submitted_at REAL;
    CREATE UNIQUE INDEX sales_queue ON sales(queue_seq) WHERE queue_seq IS NOT NULL;
    CREATE INDEX sales_created ON sales(created_at);
    CREATE TABLE seen_tokens (
        kind TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        reference TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (kind, token_hash)
    );
    CREATE TABLE card_counters (
        uid TEXT PRIMARY KEY,
        counter INTEGER NOT NULL,
        reference TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE TABLE refunds (
        idempotency_key TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL,
        reference TEXT,
        amount_minor INTEGER NOT NULL,
        asset TEXT NOT NULL,
        to_address TEXT NOT NULL,
        state TEXT NOT NULL,
        refund_id TEXT,
        detail TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE backend_notices (
        api TEXT PRIMARY KEY,
        deprecation TEXT NOT NULL,
        sunset TEXT,
        link TEXT,
        first_seen REAL NOT NULL
    )
    """,
    # 3: what a reprinted receipt shows beyond the total: the tip in it and the quote's rate
    """
    ALTER TABLE sales ADD COLUMN tip_minor INTEGER;
    ALTER TABLE sales ADD COLUMN rate TEXT
    """,
]

FINAL_STATES = frozenset({"approved", "declined", "expired", "cancelled", "failed"})
OFFLINE_STATES = ("offline_queued", "forwarding")


class NewerSchemaError(Exception):
    """The file was written by a newer cryptopos: opening it here could lose what it added."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(f"its schema is version {found}, newer than this cryptopos knows ({known})")
        self.found, self.known = found, known


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations ``db`` has not seen yet, each in its own transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise NewerSchemaError(version, len(MIGRATIONS))
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in filter(str.strip, script.split(";")):
                db.execute(stmt)
            db.execute(f"PRAGMA user_version={number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

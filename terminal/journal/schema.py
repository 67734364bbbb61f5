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
    # 4: staff, the audit trail, who took each sale and refund, settings changed at the till
    """
    CREATE TABLE staff (
        staff_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('cashier', 'manager')),
        disabled INTEGER NOT NULL DEFAULT 0,
        pin_hash TEXT,
        failed_pins INTEGER NOT NULL DEFAULT 0,
        locked_until REAL,
        origin TEXT NOT NULL CHECK (origin IN ('till', 'backend')),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        -- a manager's PIN lives only on the backend: the till keeps no form of it
        CHECK (role = 'cashier' OR pin_hash IS NULL)
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        staff_id TEXT,
        approver_id TEXT,
        subject TEXT,
        detail TEXT
    );
    CREATE INDEX audit_at ON audit(at);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    ALTER TABLE sales ADD COLUMN staff_id TEXT;
    ALTER TABLE refunds ADD COLUMN staff_id TEXT;
    ALTER TABLE refunds ADD COLUMN approved_by TEXT;
    ALTER TABLE refunds ADD COLUMN approval_from TEXT;
    CREATE TABLE till_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        staff_id TEXT,
        approved_by TEXT NOT NULL,
        at REAL NOT NULL
    )
    """,
]

FINAL_STATES = frozenset({"approved", "declined", "expired", "cancelled", "failed"})
OFFLINE_STATES = ("offline_queued", "forwarding")


class NewerSchemaError(Exception):
    """The file was written by a newer cryptopos: opening it here could lose what it added."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(f"its schema is version {found}, newer than this cryptopos knows ({known})")
        self.found, self.known = found, known


def statements(script: str) -> list[str]:
    """The SQL statements of ``script``: split at each ``;`` that ends a complete statement, so a
    trigger's ``BEGIN ...; END`` stays whole."""
    out: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                out.append(pending.strip())
            pending = ""
    if pending.strip(" \n\t;"):
        raise ValueError(f"an incomplete SQL statement at the end of a migration: {pending.strip()[:60]!r}")
    return out


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations ``db`` has not seen yet, each in its own transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise NewerSchemaError(version, len(MIGRATIONS))
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in statements(script):
                db.execute(stmt)
            db.execute(f"PRAGMA user_version={number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

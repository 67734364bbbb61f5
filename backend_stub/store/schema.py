"""Versioned schema migrations, one list for both dialects.

A migration is a version, a note and steps: SQL written once with ``{real}`` (REAL / DOUBLE
PRECISION), ``{int}`` (INTEGER / BIGINT) filled in per
dialect, or a pair of SQL texts where the dialects differ, or a Python step. Each version applied
is a row of ``schema_version``; the whole run is one transaction (both engines have
transactional DDL), under a lock, so instances that start together migrate once.

A ledger whose schema is newer than :data:`CURRENT` was written by a newer build: it is refused
(:class:`StoreSchemaError`), never opened, since this code would misread what it does not know.
Ledgers made before versioning (the tables without ``schema_version``) are adopted as version 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from backend_stub.store.sql import Tx

__all__ = ["CURRENT", "MIGRATIONS", "Migration", "render"]

Dialect = Literal["sqlite", "postgresql"]
Step = str | tuple[str | None, str | None] | Callable[[Tx], None]

TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {"real": "REAL", "int": "INTEGER"},
    "postgresql": {"real": "DOUBLE PRECISION", "int": "BIGINT"},
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    note: str
    steps: tuple[Step, ...]


def render(sql: str, dialect: Dialect) -> str:
    return sql.format(**TYPES[dialect])


def _legacy_nonce_digest(tx: Tx) -> None:
    # SQLite ledgers made before request digests were kept lack the column
    if tx.dialect == "sqlite":
        columns = {row["name"] for row in tx.execute("PRAGMA table_info(nonces)").fetchall()}
        if "digest" not in columns:
            tx.execute("ALTER TABLE nonces ADD COLUMN digest TEXT")


BASELINE: tuple[Step, ...] = (
    """CREATE TABLE IF NOT EXISTS quotes (
        quote_id TEXT PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        fiat_minor {int} NOT NULL,
        fiat_currency TEXT NOT NULL,
        asset TEXT NOT NULL,
        crypto_minor TEXT NOT NULL,
        rate TEXT NOT NULL,
        spread_bps {int} NOT NULL,
        fee_minor {int} NOT NULL,
        issued_at {real} NOT NULL,
        expires_at {real} NOT NULL,
        doc TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS payments (
        payment_id TEXT PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        reference TEXT NOT NULL,
        quote_id TEXT NOT NULL,
        method TEXT NOT NULL,
        asset TEXT NOT NULL,
        amount_minor TEXT NOT NULL,
        fiat_minor {int} NOT NULL,
        fiat_currency TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        refunded_minor TEXT NOT NULL DEFAULT '0',
        created_at {real} NOT NULL,
        updated_at {real} NOT NULL,
        seq {int} NOT NULL,
        UNIQUE (terminal_id, reference))""",
    "CREATE INDEX IF NOT EXISTS payments_by_seq ON payments (terminal_id, seq)",
    """CREATE TABLE IF NOT EXISTS refunds (
        refund_id TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL,
        amount_minor TEXT NOT NULL,
        to_address TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at {real} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS invoices (
        invoice_id TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL,
        terminal_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        uri TEXT NOT NULL,
        address TEXT NOT NULL,
        amount_minor TEXT NOT NULL,
        received_minor TEXT NOT NULL DEFAULT '0',
        status TEXT NOT NULL,
        expires_at {real} NOT NULL,
        created_at {real} NOT NULL,
        updated_at {real} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
        status_code {int},
        body TEXT,
        started_at {real} NOT NULL,
        PRIMARY KEY (scope, key))""",
    # durable nonces: wallet payment tokens (consumed with the payment, in its transaction)
    """CREATE TABLE IF NOT EXISTS nonces (
        scope TEXT NOT NULL,
        nonce TEXT NOT NULL,
        seen_at {real} NOT NULL,
        keep_until {real} NOT NULL,
        digest TEXT,
        PRIMARY KEY (scope, nonce))""",
    _legacy_nonce_digest,
    "CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (keep_until)",
    """CREATE TABLE IF NOT EXISTS wallet_keys (
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        created_at {real} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS cards (
        uid TEXT PRIMARY KEY,
        k1 TEXT NOT NULL,
        k2 TEXT NOT NULL,
        counter {int} NOT NULL DEFAULT -1,
        created_at {real} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS counters (
        name TEXT PRIMARY KEY,
        value {int} NOT NULL)""",
)


def _refund_terminals(tx: Tx) -> None:
    # Refunds made before this version: their terminal and fiat value, from their payment (the
    # rounding is the services' own: ceil, so a partial refund is never valued below its share)
    rows = tx.execute(
        "SELECT r.refund_id, r.amount_minor, p.terminal_id, p.amount_minor AS paid_minor, p.fiat_minor, "
        "p.fiat_currency FROM refunds r JOIN payments p ON p.payment_id = r.payment_id "
        "WHERE r.terminal_id IS NULL"
    ).fetchall()
    for r in rows:
        paid = int(r["paid_minor"])
        fiat = -(-int(r["fiat_minor"]) * int(r["amount_minor"]) // paid) if paid > 0 else 0
        tx.execute(
            "UPDATE refunds SET terminal_id = ?, fiat_minor = ?, fiat_currency = ? WHERE refund_id = ?",
            (r["terminal_id"], fiat, r["fiat_currency"], r["refund_id"]),
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline: quotes, payments, refunds, invoices, idempotency, nonces, cards", BASELINE),
    Migration(
        2,
        "terminals and their keys; meta; payment sequence; the replay cache",
        (
            """CREATE TABLE meta (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL)""",
            """CREATE TABLE terminals (
                key_id TEXT PRIMARY KEY,
                note TEXT NOT NULL DEFAULT '',
                created_at {real} NOT NULL,
                revoked_at {real})""",
            # one row per secret a terminal has had; a rotated-out one expires after its grace
            """CREATE TABLE terminal_keys (
                key_id TEXT NOT NULL REFERENCES terminals (key_id),
                version {int} NOT NULL,
                secret TEXT NOT NULL,
                created_at {real} NOT NULL,
                expires_at {real},
                PRIMARY KEY (key_id, version))""",
            # PostgreSQL: a sequence, so concurrent payments do not all update one counter row
            (None, "CREATE SEQUENCE payment_seq"),
            (
                None,
                "SELECT setval('payment_seq', GREATEST(1, (SELECT COALESCE(MAX(seq), 0) FROM payments)), "
                "(SELECT COUNT(*) > 0 FROM payments))",
            ),
            # PostgreSQL's replay cache lives in the ledger database, unlogged (SQLite: a side file)
            (
                None,
                """CREATE UNLOGGED TABLE request_nonces (
                    scope TEXT NOT NULL,
                    nonce TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    keep_until DOUBLE PRECISION NOT NULL,
                    hits BIGINT NOT NULL,
                    PRIMARY KEY (scope, nonce))""",
            ),
            (None, "CREATE INDEX request_nonces_by_expiry ON request_nonces (keep_until)"),
            # the sentinel: this cache remembers since ever (see backend_stub/store/sql.py)
            (None, "INSERT INTO request_nonces VALUES ('', '', '0.0', 1e18, 1)"),
        ),
    ),
    Migration(
        3,
        "staff (managers' PINs, lockout); refunds by terminal and fiat value, who asked and who approved",
        (
            # merchant-wide: one ledger is one merchant's (docs/decisions.md, 29)
            """CREATE TABLE staff (
                staff_id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('cashier', 'manager')),
                pin_hash TEXT,
                disabled_at {real},
                failed {int} NOT NULL DEFAULT 0,
                locked_until {real},
                created_at {real} NOT NULL,
                updated_at {real} NOT NULL)""",
            "ALTER TABLE refunds ADD COLUMN terminal_id TEXT",
            "ALTER TABLE refunds ADD COLUMN fiat_minor {int}",
            "ALTER TABLE refunds ADD COLUMN fiat_currency TEXT",
            "ALTER TABLE refunds ADD COLUMN requested_by TEXT",
            "ALTER TABLE refunds ADD COLUMN approved_by TEXT",
            _refund_terminals,
            "CREATE INDEX refunds_by_terminal_day ON refunds (terminal_id, created_at)",
        ),
    ),
    Migration(
        4,
        "terminal health: each till's last heartbeat (version, readers, queue, unknown outcomes)",
        (
            # one row per terminal key, replaced by each heartbeat: the fleet as last seen, not a
            # history (the logs have that). No reference to terminals: a key given in the settings
            # (the embedded backend's) has no row there.
            """CREATE TABLE terminal_health (
                key_id TEXT PRIMARY KEY,
                version TEXT NOT NULL,
                readers TEXT NOT NULL,
                queue_depth {int} NOT NULL,
                unknown_outcomes {int} NOT NULL,
                last_reconcile_at {real},
                seen_at {real} NOT NULL)""",
        ),
    ),
)
CURRENT = MIGRATIONS[-1].version

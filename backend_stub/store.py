"""The ledger shared by every instance and build: SQLite in WAL mode, safe across processes.

Each thread gets its own connection (SQLite connections are not shared between threads);
every write runs in ``BEGIN IMMEDIATE`` so two writers never both read-then-write stale
data, and ``busy_timeout`` makes a writer wait for the lock instead of failing. Several
uvicorn processes may open the same file: WAL lets readers run beside the one writer.

Tables: quotes, payments, refunds, invoices, idempotency records, request nonces (the
terminal's and wallets'), Bolt Card keys and counters.

Errors::

    StoreError (RuntimeError)          the database cannot be used (locked too long, corrupt, closed)
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["IdempotencyBegun", "Store", "StoreError"]

BUSY_TIMEOUT_MS = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS quotes (
    quote_id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    fiat_minor INTEGER NOT NULL,
    fiat_currency TEXT NOT NULL,
    asset TEXT NOT NULL,
    crypto_minor TEXT NOT NULL,
    rate TEXT NOT NULL,
    spread_bps INTEGER NOT NULL,
    fee_minor INTEGER NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    quote_id TEXT NOT NULL,
    method TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount_minor TEXT NOT NULL,
    fiat_minor INTEGER NOT NULL,
    fiat_currency TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    refunded_minor TEXT NOT NULL DEFAULT '0',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (terminal_id, reference)
);
CREATE INDEX IF NOT EXISTS payments_by_seq ON payments (terminal_id, seq);
CREATE TABLE IF NOT EXISTS refunds (
    refund_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    amount_minor TEXT NOT NULL,
    to_address TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
    invoice_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    uri TEXT NOT NULL,
    address TEXT NOT NULL,
    amount_minor TEXT NOT NULL,
    received_minor TEXT NOT NULL DEFAULT '0',
    status TEXT NOT NULL,
    expires_at REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status_code INTEGER,
    body TEXT,
    started_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at REAL NOT NULL,
    keep_until REAL NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (keep_until);
CREATE TABLE IF NOT EXISTS wallet_keys (
    key_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
    uid TEXT PRIMARY KEY,
    k1 TEXT NOT NULL,
    k2 TEXT NOT NULL,
    counter INTEGER NOT NULL DEFAULT -1,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class StoreError(RuntimeError):
    """The shared database cannot be used."""


@dataclass(frozen=True, slots=True)
class IdempotencyBegun:
    """What :meth:`Store.begin_idempotent` found.

    ``outcome``: ``started`` (you own the key now), ``replay`` (a stored response),
    ``mismatch`` (the key was used for another request), ``in_flight`` (someone else holds it).
    """

    outcome: Literal["started", "replay", "mismatch", "in_flight"]
    status_code: int = 0
    body: dict[str, Any] | None = None


class Store:
    """SQLite ledger; one object per process, one connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        try:
            self._conn().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create the schema in {self.path}: {exc}") from exc

    @classmethod
    def temporary(cls) -> Store:
        """A store in a fresh temporary directory, removed on :meth:`close` (embedded mode, tests)."""
        tmp = tempfile.TemporaryDirectory(prefix="cryptopos-backend-")
        store = cls(Path(tmp.name) / "backend.sqlite3")
        store._tmpdir = tmp
        return store

    # -- connections ------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # Used by its own thread only; check_same_thread=False lets close() end it from another.
                conn = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
                )
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                # FULL: a committed charge survives a power cut, not only a process crash.
                conn.execute("PRAGMA synchronous = FULL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"the ledger is busy: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StoreError(f"commit failed: {exc}") from exc

    def read(self) -> sqlite3.Connection:
        """A connection for single-statement reads (autocommit; WAL gives a consistent snapshot)."""
        return self._conn()

    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
        except (sqlite3.Error, StoreError):
            return False
        return True

    def close(self) -> None:
        self._closed = True
        with self._conns_lock:
            for conn in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    # -- sequences --------------------------------------------------------------------

    @staticmethod
    def next_value(db: sqlite3.Connection, name: str) -> int:
        """A counter shared by all processes (call inside :meth:`write`)."""
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1",
            (name,),
        )
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row["value"])

    # -- nonces -----------------------------------------------------------------------

    def remember_nonce(self, scope: str, nonce: str, *, now: float, keep_until: float) -> bool:
        """Record a nonce; ``False`` when it was seen before (a replay).

        ``keep_until`` is when the nonce can be forgotten: once whatever carried it would be
        refused anyway (a request outside the time window, an expired token).
        """
        with self.write() as db:
            return self.claim_nonce(db, scope, nonce, now=now, keep_until=keep_until)

    @staticmethod
    def claim_nonce(db: sqlite3.Connection, scope: str, nonce: str, *, now: float, keep_until: float) -> bool:
        """:meth:`remember_nonce` inside a caller's transaction (so it commits with the payment)."""
        db.execute("DELETE FROM nonces WHERE keep_until < ?", (now,))
        cur = db.execute(
            "INSERT OR IGNORE INTO nonces (scope, nonce, seen_at, keep_until) VALUES (?, ?, ?, ?)",
            (scope, nonce, now, keep_until),
        )
        return cur.rowcount == 1

    # -- idempotency ------------------------------------------------------------------

    def begin_idempotent(
        self, scope: str, key: str, fingerprint: str, *, now: float, lease_s: float
    ) -> IdempotencyBegun:
        """Claim an idempotency key, or report why it cannot be claimed.

        An in-flight record older than ``lease_s`` belonged to an instance that died
        mid-request; it is taken over (the work it did is in the same transaction as its
        completion, so nothing half-done is left behind).
        """
        with self.write() as db:
            row = db.execute(
                "SELECT fingerprint, state, status_code, body, started_at FROM idempotency "
                "WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO idempotency (scope, key, fingerprint, state, started_at) "
                    "VALUES (?, ?, ?, 'in_flight', ?)",
                    (scope, key, fingerprint, now),
                )
                return IdempotencyBegun("started")
            if row["fingerprint"] != fingerprint:
                return IdempotencyBegun("mismatch")
            if row["state"] == "done":
                return IdempotencyBegun("replay", int(row["status_code"]), json.loads(row["body"]))
            if now - float(row["started_at"]) > lease_s:
                db.execute(
                    "UPDATE idempotency SET started_at = ? WHERE scope = ? AND key = ?", (now, scope, key)
                )
                return IdempotencyBegun("started")
            return IdempotencyBegun("in_flight")

    @staticmethod
    def complete_idempotent(
        db: sqlite3.Connection, scope: str, key: str, status_code: int, body: dict[str, Any]
    ) -> None:
        """Store the response (call inside the :meth:`write` that did the work)."""
        db.execute(
            "UPDATE idempotency SET state = 'done', status_code = ?, body = ? WHERE scope = ? AND key = ?",
            (status_code, json.dumps(body, separators=(",", ":")), scope, key),
        )

    def finish_idempotent(self, scope: str, key: str, status_code: int, body: dict[str, Any]) -> None:
        with self.write() as db:
            self.complete_idempotent(db, scope, key, status_code, body)

    def release_idempotent(self, scope: str, key: str) -> None:
        """Forget an in-flight claim whose request failed without a result worth replaying."""
        with self.write() as db:
            db.execute(
                "DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'in_flight'", (scope, key)
            )

    # -- cards ------------------------------------------------------------------------

    def add_card(self, uid: str, *, k1: bytes, k2: bytes, now: float) -> None:
        with self.write() as db:
            db.execute(
                "INSERT INTO cards (uid, k1, k2, counter, created_at) VALUES (?, ?, ?, -1, ?) "
                "ON CONFLICT (uid) DO UPDATE SET k1 = excluded.k1, k2 = excluded.k2",
                (uid.upper(), k1.hex(), k2.hex(), now),
            )

    def add_wallet_key(self, key_id: str, public_key: bytes, *, now: float) -> None:
        """Trust a wallet's Ed25519 public key (32 raw bytes) for its payment tokens."""
        with self.write() as db:
            db.execute(
                "INSERT INTO wallet_keys (key_id, public_key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key",
                (key_id, public_key.hex(), now),
            )

    # -- counts (tests, metrics) ------------------------------------------------------

    def count(self, table: Literal["payments", "refunds", "invoices", "quotes", "idempotency"]) -> int:
        row = self.read().execute(f"SELECT COUNT(*) AS n FROM {table}").fetchone()  # noqa: S608 - literal
        return int(row["n"])

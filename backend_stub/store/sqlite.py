"""The SQLite ledger: one file in WAL mode, shared by processes on one machine.

Each thread gets its own connection (SQLite connections are not shared between threads);
every write runs in ``BEGIN IMMEDIATE``, so two writers never both read-then-write stale data
(SQLite runs one writer at a time; PostgreSQL gets the same by row locks, ``Tx.for_update``);
``busy_timeout`` makes a writer wait for the lock instead of failing. ``synchronous = FULL``: a
committed charge survives a power cut, not only a process crash.

The replay cache is a side database (``<ledger>.replay``) in WAL mode with ``synchronous =
NORMAL``: a commit there is not fsync'd (only checkpoints are), and it stays consistent after
a power cut, losing at most the last moments, which the cache's sentinel accounts for (a new
boot id empties it; docs/decisions.md).

The files (ledger, side database and their -wal/-shm, which SQLite creates with the
database's mode) are 0600: they hold sealed card keys, terminal secrets and every payment.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from backend_stub.store.errors import StoreConfigError, StoreError, StoreUnavailableError
from backend_stub.store.sql import (
    PURGE_EVERY_S,
    PURGE_NONCES,
    REMEMBER_NONCE,
    SENTINEL_GET,
    SENTINEL_PUT,
    Database,
    NonceSeen,
    Tx,
    nonce_verdict,
)
from backend_stub.store.url import StoreURL

__all__ = ["SqliteDatabase", "private_file"]

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

REPLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS request_nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    digest TEXT NOT NULL,
    keep_until REAL NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (scope, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS request_nonces_by_expiry ON request_nonces (keep_until);
CREATE TABLE IF NOT EXISTS cache_boot (boot TEXT NOT NULL);
"""


def private_file(path: Path) -> None:
    """Create ``path`` 0600 if missing, and take group/other access away from it and its
    -wal/-shm if they exist (a ledger made by an older version was 0644)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if p.stat().st_mode & 0o077:
                p.chmod(0o600)


class SqliteTx:
    dialect: Literal["sqlite", "postgresql"] = "sqlite"
    for_update = ""
    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)


class _Connections:
    """One connection per thread to one file."""

    def __init__(self, path: Path, *, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.closed = False

    def get(self) -> sqlite3.Connection:
        if self.closed:
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
                conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"cannot open {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self.get()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"the ledger {self.path} is busy: {exc}") from exc
        try:
            result = fn(conn)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise StoreError(f"commit failed in {self.path}: {exc}") from exc
        return result

    def close(self) -> None:
        self.closed = True
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()


class SqliteDatabase(Database):
    def __init__(self, url: StoreURL) -> None:
        assert url.path is not None
        self.url = url
        self.path = url.path
        if not self.path.parent.is_dir():
            raise StoreConfigError(
                f"cannot create the ledger {url}: folder {self.path.parent} does not exist"
            )
        try:
            private_file(self.path)
            self.replay_path = self.path.with_name(self.path.name + ".replay")
            private_file(self.replay_path)
        except OSError as exc:
            raise StoreConfigError(f"cannot create the ledger {url}: {exc.strerror}") from exc
        self._ledger = _Connections(self.path, synchronous="FULL")
        self._replay = _Connections(self.replay_path, synchronous="NORMAL")
        self._since: float | None = None
        self._purged_at = 0.0

    # -- ledger ---------------------------------------------------------------------------

    def transaction(self, fn: Callable[[Tx], T]) -> T:
        try:
            return self._ledger.write(lambda conn: fn(SqliteTx(conn)))
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(f"the ledger {self.url} failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"the ledger {self.url} failed: {exc}") from exc

    def migrate(self, fn: Callable[[Tx], None]) -> None:
        self.transaction(fn)  # BEGIN IMMEDIATE: one migrator at a time

    def query(self, fn: Callable[[Tx], T]) -> T:
        try:
            return fn(SqliteTx(self._ledger.get()))
        except sqlite3.Error as exc:
            raise StoreError(f"the ledger {self.url} failed: {exc}") from exc

    def ping(self) -> bool:
        try:
            self._ledger.get().execute("SELECT 1").fetchone()
        except (sqlite3.Error, StoreError):
            return False
        return True

    def close(self) -> None:
        self._ledger.close()
        self._replay.close()

    # -- replay cache ---------------------------------------------------------------------

    def open_replay_cache(self, *, ledger_is_new: bool) -> None:
        """Create the side database; note since when it remembers (0: since ever)."""

        def setup(conn: sqlite3.Connection) -> float:
            boot = BOOT_ID.read_text().strip() if BOOT_ID.exists() else ""
            row = conn.execute("SELECT boot FROM cache_boot").fetchone()
            sentinel = conn.execute(SENTINEL_GET).fetchone()
            if row is not None and row["boot"] != boot:
                # The machine restarted: the last commits before it may be lost (no fsync).
                conn.execute("DELETE FROM request_nonces")
                conn.execute("DELETE FROM cache_boot")
                row = sentinel = None
            if row is None:
                conn.execute("INSERT INTO cache_boot (boot) VALUES (?)", (boot,))
            if sentinel is None:
                since = 0.0 if ledger_is_new else time.time()
                conn.execute(SENTINEL_PUT, (repr(since),))
                return since
            return float(sentinel["digest"])

        try:
            self._replay.get().executescript(REPLAY_SCHEMA)
            self._since = self._replay.write(setup)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the replay cache {self.replay_path}: {exc}") from exc

    def remember_nonce(
        self, scope: str, nonce: str, digest: str, *, now: float, keep_until: float, signed_at: float
    ) -> NonceSeen:
        def remember(conn: sqlite3.Connection) -> tuple[str, int]:
            if now - self._purged_at > PURGE_EVERY_S or now < self._purged_at:
                conn.execute(PURGE_NONCES, (now,))
                self._purged_at = now
            row = conn.execute(REMEMBER_NONCE, (scope, nonce, digest, keep_until, now, now, now)).fetchone()
            return str(row["digest"]), int(row["hits"])

        try:
            found, hits = self._replay.write(remember)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"the replay cache {self.replay_path} failed: {exc}") from exc
        return nonce_verdict(found, hits, digest, signed_at=signed_at, since=self._since or 0.0)

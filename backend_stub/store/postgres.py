"""The PostgreSQL ledger: psycopg 3 with a psycopg_pool connection pool per process.

Write transactions run at ``SERIALIZABLE``, the isolation SQLite gives by serializing writers, so
the ledger code is the same on both: a concurrent claim of one idempotency key, a Bolt Card
counter read and raised by two taps at once, two refunds of one payment... one of the two is
told to retry (SQLSTATE 40001 / 40P01, or a unique violation from a concurrent insert) and is
run again from the start, when it sees what the other committed. Payment sequence numbers
come from a SEQUENCE, not a counter row that every payment would update (and conflict on).

The replay cache is an UNLOGGED table, written with ``synchronous_commit = off`` through its
own small pool: no WAL, no fsync per request. Crash recovery truncates an unlogged table; the
cache's sentinel row goes with it, which is how an instance knows that nonces were forgotten
(docs/decisions.md). Connections are checked on every new one (the pool's ``configure``), which
is exactly when that can have happened.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["PgRow", "PostgresDatabase"]

T = TypeVar("T")
POOL_MAX = 8
REPLAY_POOL_MAX = 4
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 5.0
PING_TIMEOUT_S = 1.5
MAX_ATTEMPTS = 40  # serialization retries of one transaction (8 busy writers need a few)
# SQLSTATEs that mean "run the transaction again": serialization failure, deadlock, and a
# unique violation (a concurrent insert of the same key, which the retry then sees)
RETRY_STATES = frozenset({"40001", "40P01", "23505"})
INSTALL_HINT = "PostgreSQL ledgers need psycopg: pip install 'cryptopos[postgres]'"


class PgRow:
    """A row by column name or position, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, names: tuple[str, ...], index: dict[str, int], values: Sequence[Any]) -> None:
        self._names, self._index, self._values = names, index, tuple(values)

    def __getitem__(self, key: str | int, /) -> Any:
        return self._values[key] if isinstance(key, int) else self._values[self._index[key]]

    def keys(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], PgRow]:
    names = tuple(c.name for c in (cursor.description or ()))
    index = {n: i for i, n in enumerate(names)}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(names, index, values)

    return make


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled). Our SQL has no ``?``
    inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgTx:
    dialect: Literal["sqlite", "postgresql"] = "postgresql"
    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self.conn.execute(to_pyformat(sql), params)


def _import() -> tuple[Any, Any]:
    try:
        import psycopg
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise StoreConfigError(INSTALL_HINT) from None
    return psycopg, ConnectionPool


class PostgresDatabase(Database):
    def __init__(self, url: StoreURL) -> None:
        self.url = url
        self._psycopg, pool_cls = _import()
        self._since: float | None = None
        self._since_lock = threading.Lock()
        self._purged_at = 0.0
        self._pool: ConnectionPool[Any] = pool_cls(
            url.url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs=self._kwargs(),
            open=False,
            timeout=POOL_TIMEOUT_S,
            name="cryptopos-ledger",
        )
        self._replay: ConnectionPool[Any] = pool_cls(
            url.url,
            min_size=1,
            max_size=REPLAY_POOL_MAX,
            kwargs=self._kwargs(),
            configure=self._configure_replay,
            open=False,
            timeout=POOL_TIMEOUT_S,
            name="cryptopos-replay",
        )

    def _kwargs(self) -> dict[str, Any]:
        return {"autocommit": True, "row_factory": _row_factory, "connect_timeout": CONNECT_TIMEOUT_S}

    def connect(self) -> psycopg.Connection[Any]:
        """One connection outside the pools (migrations, the first check); errors made clear."""
        try:
            conn: psycopg.Connection[Any] = self._psycopg.connect(self.url.url, **self._kwargs())
        except self._psycopg.Error as exc:
            raise StoreUnavailableError(f"cannot connect to the ledger {self.url}: {_reason(exc)}") from None
        return conn

    def open_pools(self) -> None:
        # wait=False: an instance whose database is down still starts, and says so on /readyz
        self._pool.open(wait=False)
        self._replay.open(wait=False)

    # -- ledger ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self, pool: ConnectionPool[Any], timeout: float = POOL_TIMEOUT_S) -> Iterator[Any]:
        pg = self._psycopg
        try:
            with pool.connection(timeout=timeout) as conn:
                yield conn
        except pg.OperationalError as exc:  # also the pool's PoolTimeout / PoolClosed
            raise StoreUnavailableError(f"the ledger {self.url} does not answer: {_reason(exc)}") from None
        except pg.Error as exc:
            raise StoreError(f"the ledger {self.url} failed: {_reason(exc)}") from exc

    def transaction(self, fn: Callable[[Tx], T]) -> T:
        pg = self._psycopg
        for attempt in range(MAX_ATTEMPTS):
            with self._connection(self._pool) as conn:
                try:
                    conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
                    result = fn(PgTx(conn))
                    conn.execute("COMMIT")
                    return result
                except pg.Error as exc:
                    with contextlib.suppress(pg.Error):
                        conn.execute("ROLLBACK")
                    if exc.sqlstate not in RETRY_STATES or attempt == MAX_ATTEMPTS - 1:
                        raise
                except BaseException:
                    with contextlib.suppress(pg.Error):
                        conn.execute("ROLLBACK")
                    raise
            # the other transaction is committing now: give it a moment, spread the retries
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))  # noqa: S311 - jitter
        raise StoreError("unreachable")  # pragma: no cover

    def migrate(self, fn: Callable[[Tx], None]) -> None:
        # READ COMMITTED on a connection of its own: fn first takes an advisory lock, and each
        # statement after it must see what a migrator that held the lock before committed
        # (a serializable snapshot would be older than the wait)
        pg = self._psycopg
        with self.connect() as conn:
            try:
                conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                fn(PgTx(conn))
                conn.execute("COMMIT")
            except pg.OperationalError as exc:
                raise StoreUnavailableError(f"the ledger {self.url} failed: {_reason(exc)}") from None
            except pg.Error as exc:
                raise StoreError(f"cannot migrate the ledger {self.url}: {_reason(exc)}") from exc

    def query(self, fn: Callable[[Tx], T]) -> T:
        with self._connection(self._pool) as conn:
            return fn(PgTx(conn))

    def ping(self) -> bool:
        try:
            with self._connection(self._pool, timeout=PING_TIMEOUT_S) as conn:
                conn.execute("SELECT 1").fetchone()
        except StoreError:
            return False
        return True

    def close(self) -> None:
        self._pool.close()
        self._replay.close()

    # -- replay cache ---------------------------------------------------------------------

    def _configure_replay(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("SET synchronous_commit TO off")
        # A new connection may follow a server crash that truncated the cache: look again.
        with self._since_lock:
            self._since = None

    def _sentinel(self, conn: psycopg.Connection[Any]) -> float:
        """Since when the cache remembers. Made with the table (0: since ever); missing after
        crash recovery truncated the table, and then made again: since now."""
        conn.execute(to_pyformat(SENTINEL_PUT), (repr(time.time()),))
        row = conn.execute(SENTINEL_GET).fetchone()
        return float(row["digest"]) if row is not None else time.time()

    def remember_nonce(
        self, scope: str, nonce: str, digest: str, *, now: float, keep_until: float, signed_at: float
    ) -> NonceSeen:
        with self._connection(self._replay) as conn:
            if self._since is None:
                since = self._sentinel(conn)
                with self._since_lock:
                    self._since = since
            if now - self._purged_at > PURGE_EVERY_S or now < self._purged_at:
                self._purged_at = now
                conn.execute(to_pyformat(PURGE_NONCES), (now,))
            row = conn.execute(
                to_pyformat(REMEMBER_NONCE), (scope, nonce, digest, keep_until, now, now, now)
            ).fetchone()
        return nonce_verdict(
            str(row["digest"]), int(row["hits"]), digest, signed_at=signed_at, since=self._since or 0.0
        )


def _reason(exc: BaseException) -> str:
    """The first line of a driver error: libpq's own words (they never include the password)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

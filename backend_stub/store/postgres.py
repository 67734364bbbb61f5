"""The PostgreSQL ledger: psycopg 3 with a psycopg_pool connection pool per process.

Write transactions run at ``READ COMMITTED`` and say what they need (docs/decisions.md, 7): a row
read to be changed is read ``FOR UPDATE`` (``Tx.for_update``: an idempotency claim, a payment
being refunded, an invoice being paid, a terminal being rotated), so a concurrent writer of the
same row waits for the commit and then reads what it left; a Bolt Card counter is advanced by a
compare-and-set; what must be unique is a unique constraint, and the loser of two concurrent
inserts of one key (SQLSTATE 23505), like the victim of a deadlock (40P01), runs its transaction
again from the start, when it sees the winner's row. Writers of different rows never make each
other retry, which SERIALIZABLE did several times per payment with 4-8 writers. Payment sequence
numbers come from a SEQUENCE, not a counter row every payment would update.

Every connection is checked when it is taken from a pool (an empty query; the pool's ``check``),
so connections broken by a server restart are replaced instead of failing one request each.

The replay cache is an UNLOGGED table, written with ``synchronous_commit = off`` through its
own small pool: no WAL, no fsync per request. Crash recovery truncates an unlogged table; the
cache's sentinel row goes with it, which is how an instance knows that nonces were forgotten
(docs/decisions.md). A new connection looks at the sentinel again (the pool's ``configure``):
a server restart is exactly when that can have happened.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Sequence
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
# How long the pool keeps re-trying one lost connection (1 s, 2 s, ... apart) before giving it
# up; the next request then connects at once. The default (300 s, the gaps doubling) kept the
# ledger away for up to a minute after a database that was down for half of one came back.
RECONNECT_TIMEOUT_S = 2.0
MAX_ATTEMPTS = 10  # runs of one transaction; a retry follows a real race on one row, rare
# SQLSTATEs that mean "run the transaction again": a deadlock, and a unique violation (a
# concurrent insert of the same key, which the next run sees committed)
RETRY_STATES = frozenset({"40P01", "23505"})
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
    for_update = " FOR UPDATE"
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
        self.retries = 0
        self._pool: ConnectionPool[Any] = pool_cls(
            url.url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs=self._kwargs(),
            reconnect_timeout=RECONNECT_TIMEOUT_S,
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
            reconnect_timeout=RECONNECT_TIMEOUT_S,
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

    def _run(
        self,
        pool: ConnectionPool[Any],
        work: Callable[[psycopg.Connection[Any]], T],
        *,
        repeatable: Callable[[], bool] = lambda: True,
        timeout: float = POOL_TIMEOUT_S,
    ) -> T:
        """``work`` on a connection of ``pool``, driver errors made ours.

        A pooled connection is found broken only when used: after a server restart, every idle
        one is. Then the pool's idle connections are tested (``pool.check()``: the broken ones
        are replaced), and ``work`` runs once more on a new connection, if ``repeatable()`` says
        that nothing it did can have taken effect. So a restart costs no failed request, and a
        connection that works costs no test (a check on every checkout was a round trip each).
        """
        pg = self._psycopg
        for attempt in range(2):
            try:
                with pool.connection(timeout=timeout) as conn:
                    try:
                        return work(conn)
                    except pg.OperationalError as exc:
                        if attempt == 0 and conn.broken and repeatable():
                            raise _BrokenError from exc
                        raise
            except _BrokenError:
                pool.check()
            except pg.OperationalError as exc:  # also the pool's PoolTimeout / PoolClosed
                raise StoreUnavailableError(
                    f"the ledger {self.url} does not answer: {_reason(exc)}"
                ) from None
            except pg.Error as exc:
                raise StoreError(f"the ledger {self.url} failed: {_reason(exc)}") from exc
        raise StoreError("unreachable")  # pragma: no cover

    def transaction(self, fn: Callable[[Tx], T]) -> T:
        pg = self._psycopg
        committing = False

        def once(conn: psycopg.Connection[Any]) -> T:
            nonlocal committing
            committing = False
            try:
                conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                result = fn(PgTx(conn))
                committing = True
                conn.execute("COMMIT")
                return result
            except BaseException as exc:
                if not conn.broken:
                    with contextlib.suppress(pg.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, pg.Error) and exc.sqlstate in RETRY_STATES and not last:
                    raise _RetryError from exc
                raise

        for attempt in range(MAX_ATTEMPTS):
            last = attempt == MAX_ATTEMPTS - 1
            try:
                # a connection that broke before the COMMIT was sent committed nothing
                return self._run(self._pool, once, repeatable=lambda: not committing)
            except _RetryError:
                pass
            self.retries += 1
            # the other transaction has just committed or is rolling back: spread the retries
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
        return self._run(self._pool, lambda conn: fn(PgTx(conn)))  # reads: always repeatable

    def ping(self) -> bool:
        try:
            self._run(self._pool, lambda conn: conn.execute("SELECT 1").fetchone(), timeout=PING_TIMEOUT_S)
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

        def remember(conn: psycopg.Connection[Any]) -> Any:
            if self._since is None:
                since = self._sentinel(conn)
                with self._since_lock:
                    self._since = since
            if now - self._purged_at > PURGE_EVERY_S or now < self._purged_at:
                self._purged_at = now
                conn.execute(to_pyformat(PURGE_NONCES), (now,))
            return conn.execute(
                to_pyformat(REMEMBER_NONCE), (scope, nonce, digest, keep_until, now, now, now)
            ).fetchone()

        # Run again on a new connection if this one was broken: it broke with the server process
        # behind it, which ended before it could run our statement, or crashed, and then crash
        # recovery emptied the cache anyway (the sentinel says so).
        row = self._run(self._replay, remember)
        return nonce_verdict(
            str(row["digest"]), int(row["hits"]), digest, signed_at=signed_at, since=self._since or 0.0
        )


class _BrokenError(Exception):
    """A pooled connection was found broken, and the work on it may run again."""


class _RetryError(Exception):
    """The database asked for the transaction to run again (a deadlock, a concurrent insert)."""


def _reason(exc: BaseException) -> str:
    """The first line of a driver error: libpq's own words (they never include the password)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

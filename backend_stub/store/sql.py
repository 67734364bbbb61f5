"""What the ledger code sees of a database, the same for SQLite and PostgreSQL.

SQL is written once with ``?`` placeholders in the subset both dialects share (``ON CONFLICT``,
``RETURNING``); :class:`Tx` runs it. A row reads by column name or position and turns into a
``dict``. :class:`Database` is one dialect's connections: write transactions (run again when
the engine asks for it), reads, the replay cache and health.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from backend_stub.store.url import StoreURL

__all__ = ["Cursor", "Database", "NonceSeen", "Row", "Tx"]

T = TypeVar("T")

NonceSeen = Literal["fresh", "same", "different", "forgotten"]
"""What the replay cache found for a request's nonce: new; seen with this very request (a
retransmission); seen with another request (a replay); or new, but signed before the cache was
last emptied (after a crash of its database), so it may have been seen and forgotten."""


class Row(Protocol):
    def __getitem__(self, key: str | int, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """A connection inside a transaction (or, for reads, in autocommit)."""

    dialect: Literal["sqlite", "postgresql"]
    for_update: str
    """Appended to a SELECT of a row the transaction goes on to change: `` FOR UPDATE`` on
    PostgreSQL, where the row stays locked until the commit (a concurrent writer waits, then
    reads what was committed); nothing on SQLite, where ``BEGIN IMMEDIATE`` already keeps every
    other writer out."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...


class Database(abc.ABC):
    url: StoreURL
    retries: int = 0  # write transactions run again because the database asked (PostgreSQL)

    @abc.abstractmethod
    def transaction(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` in one write transaction and commit; ``fn`` may be run again when the
        database asks for a retry, so it must not act outside the transaction. A row it reads
        in order to change it is read with ``tx.for_update``."""

    @abc.abstractmethod
    def migrate(self, fn: Callable[[Tx], None]) -> None:
        """Run ``fn`` (the schema migrations) in one transaction, one process at a time."""

    @abc.abstractmethod
    def query(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn``'s reads (each statement sees committed data)."""

    @abc.abstractmethod
    def remember_nonce(
        self, scope: str, nonce: str, digest: str, *, now: float, keep_until: float, signed_at: float
    ) -> NonceSeen:
        """The replay cache: shared by every instance, not durable (see docs/decisions.md)."""

    @abc.abstractmethod
    def ping(self) -> bool: ...

    @abc.abstractmethod
    def close(self) -> None: ...


# The replay cache's SQL, one statement per request in both dialects. A row past its time is
# taken as new (it would be purged soon anyway); otherwise ``hits`` counts the sightings.
REMEMBER_NONCE = (
    "INSERT INTO request_nonces (scope, nonce, digest, keep_until, hits) VALUES (?, ?, ?, ?, 1) "
    "ON CONFLICT (scope, nonce) DO UPDATE SET "
    "hits = CASE WHEN request_nonces.keep_until < ? THEN 1 ELSE request_nonces.hits + 1 END, "
    "digest = CASE WHEN request_nonces.keep_until < ? THEN excluded.digest ELSE request_nonces.digest END, "
    "keep_until = CASE WHEN request_nonces.keep_until < ? THEN excluded.keep_until "
    "ELSE request_nonces.keep_until END "
    "RETURNING digest, hits"
)
PURGE_NONCES = "DELETE FROM request_nonces WHERE keep_until < ? AND scope <> ''"
PURGE_EVERY_S = 30.0
# The sentinel row (scope '' and nonce ''): since when the cache remembers. Emptied by a crash
# (an UNLOGGED table is truncated by crash recovery), the row goes with the nonces.
SENTINEL_GET = "SELECT digest FROM request_nonces WHERE scope = '' AND nonce = ''"
SENTINEL_PUT = (
    "INSERT INTO request_nonces (scope, nonce, digest, keep_until, hits) VALUES ('', '', ?, 1e18, 1) "
    "ON CONFLICT (scope, nonce) DO NOTHING"
)


def nonce_verdict(found_digest: str, hits: int, digest: str, *, signed_at: float, since: float) -> NonceSeen:
    if hits == 1:
        return "forgotten" if signed_at < since else "fresh"
    return "same" if found_digest == digest else "different"

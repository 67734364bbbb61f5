"""The ledger every instance and build shares: :class:`Store`, on SQLite or PostgreSQL by URL.

Everything the services keep goes through here or through SQL run in :meth:`Store.transaction`
(quotes, payments, refunds, invoices), with the same guarantees on both engines. SQLite runs one
write transaction at a time; on PostgreSQL, a row read to be changed is read ``FOR UPDATE``
(``Tx.for_update``), uniqueness is a constraint, and a transaction that loses a race for one
key is run again from the start (docs/decisions.md, 7).
"""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from backend_stub.store import schema
from backend_stub.store.errors import StoreConfigError, StoreError, StoreSchemaError
from backend_stub.store.sealing import MasterKey, SealError
from backend_stub.store.sql import Database, NonceSeen, Row, Tx
from backend_stub.store.url import StoreURL, parse_store_url

__all__ = ["Card", "IdempotencyBegun", "Store", "TerminalInfo"]

T = TypeVar("T")
KEY_CACHE_S = 2.0  # how long an instance trusts what it read of a terminal's keys
DEFAULT_GRACE_S = 24 * 3600.0
SECRET_BYTES = 32
_MIGRATION_LOCK = 7_201_004_001  # pg_advisory_xact_lock id: one migrator at a time
_KEY_CHECK = "master_key_check"


@dataclass(frozen=True, slots=True)
class IdempotencyBegun:
    """What claiming an idempotency key found.

    ``outcome``: ``started`` (you own the key now), ``replay`` (a stored response),
    ``mismatch`` (the key was used for another request), ``in_flight`` (someone else holds it).
    """

    outcome: Literal["started", "replay", "mismatch", "in_flight"]
    status_code: int = 0
    body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Card:
    uid: str
    k1: bytes
    k2: bytes
    counter: int


@dataclass(frozen=True, slots=True)
class TerminalInfo:
    key_id: str
    note: str
    created_at: float
    revoked_at: float | None
    keys: tuple[tuple[int, float, float | None], ...]  # (version, created_at, expires_at)


def new_secret() -> bytes:
    """A terminal secret as the till's config holds it (``signing.secret``, text): 256 bits in hex."""
    return secrets.token_hex(SECRET_BYTES).encode()


class Store:
    """The ledger; one object per process, thread-safe."""

    def __init__(
        self,
        url: str | Path | StoreURL,
        *,
        master_key: MasterKey | None = None,
        key_file: Path | None = None,
        key_cache_s: float = KEY_CACHE_S,
    ) -> None:
        self.url = url if isinstance(url, StoreURL) else parse_store_url(url)
        self.key_cache_s = key_cache_s
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._keys: dict[str, tuple[float, tuple[tuple[bytes, float | None], ...]]] = {}
        self._keys_lock = threading.Lock()
        self._db: Database
        if self.url.dialect == "sqlite":
            from backend_stub.store.sqlite import SqliteDatabase

            assert self.url.path is not None
            existed = self.url.path.exists() and self.url.path.stat().st_size > 0
            self._db = sqlite = SqliteDatabase(self.url)
            default_key: Path | None = key_file or self.url.path.with_name(self.url.path.name + ".key")
            try:
                self.master_key = master_key or MasterKey.from_env_or_file(default_key)
                self._migrate()
                sqlite.open_replay_cache(ledger_is_new=not existed)
            except BaseException:
                sqlite.close()
                raise
        else:
            from backend_stub.store.postgres import PostgresDatabase

            self.master_key = master_key or MasterKey.from_env_or_file(key_file)
            self._db = pg = PostgresDatabase(self.url)
            self._migrate()
            pg.open_pools()
        try:
            self._check_master_key()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def temporary(cls) -> Store:
        """A SQLite store in a fresh temporary directory, removed on :meth:`close` (embedded mode, tests)."""
        tmp = tempfile.TemporaryDirectory(prefix="cryptopos-backend-")
        store = cls(Path(tmp.name) / "backend.sqlite3", master_key=MasterKey.generate())
        store._tmpdir = tmp
        return store

    @property
    def retries(self) -> int:
        """Write transactions run again so far because PostgreSQL asked for it (a deadlock, or
        the loser of two concurrent inserts of one key); 0 on SQLite."""
        return self._db.retries

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        return self.url.dialect

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        dialect = self.url.dialect

        def run(tx: Tx) -> None:
            if dialect == "postgresql":
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            tx.execute(
                schema.render(
                    "CREATE TABLE IF NOT EXISTS schema_version (version {int} PRIMARY KEY, "
                    "note TEXT NOT NULL, applied_at {real} NOT NULL)",
                    dialect,
                )
            )
            row = tx.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
            have = int(row["v"] or 0)
            if have > schema.CURRENT:
                raise StoreSchemaError(
                    f"the ledger {self.url} has schema version {have}, newer than this build knows "
                    f"({schema.CURRENT}): it was written by a newer cryptopos. Upgrade this build, or "
                    "point it at another ledger; it is not opened, so nothing in it is changed"
                )
            for m in schema.MIGRATIONS[have:]:
                for step in m.steps:
                    if callable(step):
                        step(tx)
                        continue
                    sql = step if isinstance(step, str) else step[0 if dialect == "sqlite" else 1]
                    if sql is not None:
                        tx.execute(schema.render(sql, dialect))
                tx.execute(
                    "INSERT INTO schema_version (version, note, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.note, time.time()),
                )

        self._db.migrate(run)

    def schema_version(self) -> int:
        row = self.fetch_one("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row is not None else 0

    def _check_master_key(self) -> None:
        """The master key must be the one that sealed this ledger's secrets: refuse to start
        otherwise (a wrong key would decline every card and refuse every terminal); seal any
        card key still in plain text (a ledger from before sealing)."""
        mk = self.master_key

        def check(tx: Tx) -> None:
            row = tx.execute("SELECT value FROM meta WHERE name = ?", (_KEY_CHECK,)).fetchone()
            if row is None:
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (_KEY_CHECK, mk.seal(b"cryptopos", purpose=_KEY_CHECK)),
                )
            else:
                try:
                    mk.open(row["value"], purpose=_KEY_CHECK)
                except SealError:
                    raise StoreConfigError(
                        f"the master key from {mk.source} is not the one this ledger's secrets were "
                        f"sealed with ({self.url}); give the right key (CRYPTOPOS_MASTER_KEY or "
                        "CRYPTOPOS_MASTER_KEY_FILE)"
                    ) from None
            for card in tx.execute("SELECT uid, k1, k2 FROM cards").fetchall():
                if not str(card["k1"]).startswith("gcm1:"):
                    tx.execute(
                        "UPDATE cards SET k1 = ?, k2 = ? WHERE uid = ?",
                        (
                            mk.seal(bytes.fromhex(card["k1"]), purpose=f"card:{card['uid']}:k1"),
                            mk.seal(bytes.fromhex(card["k2"]), purpose=f"card:{card['uid']}:k2"),
                            card["uid"],
                        ),
                    )

        self.transaction(check)

    # -- transactions and reads -------------------------------------------------------------

    def transaction(self, fn: Callable[[Tx], T]) -> T:
        """``fn`` in one write transaction (possibly run more than once: it must act only
        through the transaction, and read a row it changes with ``tx.for_update``)."""
        return self._db.transaction(fn)

    def query(self, fn: Callable[[Tx], T]) -> T:
        return self._db.query(fn)

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.query(lambda tx: list(tx.execute(sql, params).fetchall()))

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._db.query(lambda tx: tx.execute(sql, params).fetchone())
        return row

    def ping(self) -> bool:
        return self._db.ping()

    def close(self) -> None:
        self._db.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    # -- sequences --------------------------------------------------------------------------

    @staticmethod
    def next_seq(tx: Tx) -> int:
        """The next payment sequence number (call inside :meth:`transaction`)."""
        if tx.dialect == "postgresql":
            row = tx.execute("SELECT nextval('payment_seq') AS value").fetchone()
        else:
            row = tx.execute(
                "INSERT INTO counters (name, value) VALUES ('payments', 1) "
                "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value"
            ).fetchone()
        return int(row["value"])

    # -- nonces -----------------------------------------------------------------------------

    def remember_request(
        self, scope: str, nonce: str, digest: str, *, now: float, keep_until: float, signed_at: float
    ) -> NonceSeen:
        """Record a signed request's nonce with a digest of the request, in the replay cache
        (shared by every instance; not a durable write).

        ``same``: seen with this digest (the identical request again, e.g. a retry after a
        lost answer); ``different``: seen with another request, a forgery or a client bug;
        ``forgotten``: new, but signed before the cache was last emptied by a crash."""
        return self._db.remember_nonce(
            scope, nonce, digest, now=now, keep_until=keep_until, signed_at=signed_at
        )

    @staticmethod
    def claim_nonce(tx: Tx, scope: str, nonce: str, *, now: float, keep_until: float) -> bool:
        """Record a nonce durably inside a caller's transaction (so it commits with the payment);
        ``False`` when it was seen before (a replay). ``keep_until`` is when it can be forgotten:
        once whatever carried it would be refused anyway (e.g. an expired token)."""
        tx.execute("DELETE FROM nonces WHERE scope = ? AND keep_until < ?", (scope, now))
        cur = tx.execute(
            "INSERT INTO nonces (scope, nonce, seen_at, keep_until) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (scope, nonce) DO NOTHING",
            (scope, nonce, now, keep_until),
        )
        return cur.rowcount == 1

    # -- idempotency ------------------------------------------------------------------------

    @staticmethod
    def claim_idempotent(
        tx: Tx, scope: str, key: str, fingerprint: str, *, now: float, lease_s: float
    ) -> IdempotencyBegun:
        """Claim an idempotency key inside a caller's transaction, or say why it cannot be.

        An in-flight record older than ``lease_s`` belonged to an instance that died
        mid-request; it is taken over (the work it did is in the same transaction as its
        completion, so nothing half-done is left behind)."""
        row = tx.execute(
            "SELECT fingerprint, state, status_code, body, started_at FROM idempotency "  # noqa: S608
            "WHERE scope = ? AND key = ?" + tx.for_update,
            (scope, key),
        ).fetchone()
        if row is None:
            tx.execute(
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
            tx.execute("UPDATE idempotency SET started_at = ? WHERE scope = ? AND key = ?", (now, scope, key))
            return IdempotencyBegun("started")
        return IdempotencyBegun("in_flight")

    def begin_idempotent(
        self, scope: str, key: str, fingerprint: str, *, now: float, lease_s: float
    ) -> IdempotencyBegun:
        """:meth:`claim_idempotent` in a transaction of its own (a claim held while slow work runs)."""
        return self.transaction(
            lambda tx: self.claim_idempotent(tx, scope, key, fingerprint, now=now, lease_s=lease_s)
        )

    @staticmethod
    def complete_idempotent(tx: Tx, scope: str, key: str, status_code: int, body: dict[str, Any]) -> None:
        """Store the response (call inside the transaction that did the work)."""
        tx.execute(
            "UPDATE idempotency SET state = 'done', status_code = ?, body = ? WHERE scope = ? AND key = ?",
            (status_code, json.dumps(body, separators=(",", ":")), scope, key),
        )

    def finish_idempotent(self, scope: str, key: str, status_code: int, body: dict[str, Any]) -> None:
        self.transaction(lambda tx: self.complete_idempotent(tx, scope, key, status_code, body))

    def release_idempotent(self, scope: str, key: str) -> None:
        """Forget an in-flight claim whose request failed without a result worth replaying."""
        self.transaction(
            lambda tx: tx.execute(
                "DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'in_flight'", (scope, key)
            )
        )

    # -- cards and wallet keys --------------------------------------------------------------

    def add_card(self, uid: str, *, k1: bytes, k2: bytes, now: float) -> None:
        """Issue a Bolt Card; its keys are sealed under the master key."""
        u = uid.upper()
        s1 = self.master_key.seal(k1, purpose=f"card:{u}:k1")
        s2 = self.master_key.seal(k2, purpose=f"card:{u}:k2")
        self.transaction(
            lambda tx: tx.execute(
                "INSERT INTO cards (uid, k1, k2, counter, created_at) VALUES (?, ?, ?, -1, ?) "
                "ON CONFLICT (uid) DO UPDATE SET k1 = excluded.k1, k2 = excluded.k2",
                (u, s1, s2, now),
            )
        )

    def cards(self, tx: Tx) -> list[Card]:
        """Every issued card with its keys opened (inside the payment's transaction)."""
        out = []
        for row in tx.execute("SELECT uid, k1, k2, counter FROM cards").fetchall():
            uid = str(row["uid"])
            try:
                k1 = self.master_key.open(row["k1"], purpose=f"card:{uid}:k1")
                k2 = self.master_key.open(row["k2"], purpose=f"card:{uid}:k2")
            except SealError as exc:
                raise StoreError(f"card {uid}: {exc}") from None
            out.append(Card(uid, k1, k2, int(row["counter"])))
        return out

    @staticmethod
    def advance_card_counter(tx: Tx, uid: str, counter: int) -> bool:
        """Accept tap ``counter`` of card ``uid`` only if it is above the last one accepted:
        one compare-and-set, so two taps racing with the same counter are accepted once."""
        cur = tx.execute(
            "UPDATE cards SET counter = ? WHERE uid = ? AND counter < ?", (counter, uid, counter)
        )
        return cur.rowcount == 1

    def add_wallet_key(self, key_id: str, public_key: bytes, *, now: float) -> None:
        """Trust a wallet's Ed25519 public key (32 raw bytes) for its payment tokens."""
        self.transaction(
            lambda tx: tx.execute(
                "INSERT INTO wallet_keys (key_id, public_key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key",
                (key_id, public_key.hex(), now),
            )
        )

    @staticmethod
    def wallet_keys(tx: Tx) -> dict[str, bytes]:
        return {
            str(r["key_id"]): bytes.fromhex(r["public_key"])
            for r in tx.execute("SELECT key_id, public_key FROM wallet_keys").fetchall()
        }

    # -- terminals --------------------------------------------------------------------------

    def add_terminal(self, key_id: str, *, now: float, secret: bytes | None = None, note: str = "") -> bytes:
        """A new terminal and its first secret (random unless given); returns the secret.
        A terminal that exists already is an error (:class:`KeyError`); rotate it instead."""
        secret = secret if secret is not None else new_secret()
        sealed = self.master_key.seal(secret, purpose=f"terminal:{key_id}:1")

        def add(tx: Tx) -> None:
            if tx.execute("SELECT 1 FROM terminals WHERE key_id = ?", (key_id,)).fetchone() is not None:
                raise KeyError(key_id)
            tx.execute(
                "INSERT INTO terminals (key_id, note, created_at) VALUES (?, ?, ?)", (key_id, note, now)
            )
            tx.execute(
                "INSERT INTO terminal_keys (key_id, version, secret, created_at) VALUES (?, 1, ?, ?)",
                (key_id, sealed, now),
            )

        self.transaction(add)
        self._forget(key_id)
        return secret

    def rotate_terminal(
        self, key_id: str, *, now: float, grace_s: float = DEFAULT_GRACE_S, secret: bytes | None = None
    ) -> bytes:
        """A new secret for a terminal; its current ones stay valid for ``grace_s`` more
        (so a till can be reconfigured meanwhile). Returns the new secret."""
        secret = secret if secret is not None else new_secret()
        self.transaction(
            lambda tx: self._add_version(tx, key_id, secret, now=now, others_until=now + grace_s)
        )
        self._forget(key_id)
        return secret

    def _add_version(
        self, tx: Tx, key_id: str, secret: bytes, *, now: float, others_until: float | None
    ) -> None:
        # locked: two rotations of one terminal take turns (each sees the other's version)
        t = tx.execute(
            "SELECT revoked_at FROM terminals WHERE key_id = ?" + tx.for_update,  # noqa: S608
            (key_id,),
        ).fetchone()
        if t is None or t["revoked_at"] is not None:
            raise KeyError(key_id)
        row = tx.execute("SELECT MAX(version) AS v FROM terminal_keys WHERE key_id = ?", (key_id,)).fetchone()
        version = int(row["v"] or 0) + 1
        if others_until is not None:
            tx.execute(
                "UPDATE terminal_keys SET expires_at = ? WHERE key_id = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (others_until, key_id, others_until),
            )
        tx.execute(
            "INSERT INTO terminal_keys (key_id, version, secret, created_at) VALUES (?, ?, ?, ?)",
            (key_id, version, self.master_key.seal(secret, purpose=f"terminal:{key_id}:{version}"), now),
        )

    def ensure_terminal(self, key_id: str, secret: bytes, *, now: float) -> str:
        """Make ``secret`` valid for ``key_id`` (``backend up`` registers the configured till):
        ``added`` (a new terminal), ``kept`` (already valid) or ``added-key`` (a new version
        beside the others, which keep their own expiry). A revoked terminal stays revoked
        (:class:`KeyError`)."""
        if secret in self.terminal_secrets(key_id, now=now, fresh=True):
            return "kept"
        try:
            self.add_terminal(key_id, now=now, secret=secret, note="registered by backend up")
        except KeyError:
            self.transaction(lambda tx: self._add_version(tx, key_id, secret, now=now, others_until=None))
            self._forget(key_id)
            return "added-key"
        return "added"

    def revoke_terminal(self, key_id: str, *, now: float) -> None:
        """Every secret of the terminal stops working (within the instances' key cache time)."""

        def revoke(tx: Tx) -> None:
            cur = tx.execute(
                "UPDATE terminals SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (now, key_id)
            )
            if cur.rowcount != 1:
                raise KeyError(key_id)

        self.transaction(revoke)
        self._forget(key_id)

    def list_terminals(self) -> list[TerminalInfo]:
        def read(tx: Tx) -> list[TerminalInfo]:
            keys: dict[str, list[tuple[int, float, float | None]]] = {}
            for k in tx.execute(
                "SELECT key_id, version, created_at, expires_at FROM terminal_keys ORDER BY key_id, version"
            ).fetchall():
                expires = None if k["expires_at"] is None else float(k["expires_at"])
                keys.setdefault(k["key_id"], []).append((int(k["version"]), float(k["created_at"]), expires))
            return [
                TerminalInfo(
                    str(t["key_id"]),
                    str(t["note"]),
                    float(t["created_at"]),
                    None if t["revoked_at"] is None else float(t["revoked_at"]),
                    tuple(keys.get(t["key_id"], ())),
                )
                for t in tx.execute(
                    "SELECT key_id, note, created_at, revoked_at FROM terminals ORDER BY key_id"
                ).fetchall()
            ]

        return self.query(read)

    def terminal_secrets(self, key_id: str, *, now: float, fresh: bool = False) -> list[bytes]:
        """The secrets a request signed with ``key_id`` may use at ``now``: read from the
        terminals table at most every ``key_cache_s`` per process (so a key added, rotated or
        revoked on one instance is seen by all within that time, no restart); expiry is checked
        against ``now`` on every call, so a grace period ends on time."""
        mono = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(key_id)
        if fresh or cached is None or mono - cached[0] > self.key_cache_s:
            rows = self.fetch_all(
                "SELECT k.version, k.secret, k.expires_at FROM terminal_keys k "
                "JOIN terminals t ON t.key_id = k.key_id WHERE k.key_id = ? AND t.revoked_at IS NULL",
                (key_id,),
            )
            entries = tuple(
                (
                    self.master_key.open(r["secret"], purpose=f"terminal:{key_id}:{r['version']}"),
                    None if r["expires_at"] is None else float(r["expires_at"]),
                )
                for r in rows
            )
            cached = (mono, entries)
            with self._keys_lock:
                if len(self._keys) > 10_000:  # unknown ids sent by a flood: forget, don't grow
                    self._keys.clear()
                self._keys[key_id] = cached
        return [s for s, expires in cached[1] if expires is None or now < expires]

    def terminal_key_table(self, *, now: float) -> dict[str, tuple[bytes, ...]]:
        """Every terminal's usable secrets at ``now``, in one read: the gateway's copy for its
        signature precheck (docs/platform.md), so an unknown key id costs it no query."""
        table: dict[str, list[bytes]] = {}
        for r in self.fetch_all(
            "SELECT k.key_id, k.version, k.secret, k.expires_at FROM terminal_keys k "
            "JOIN terminals t ON t.key_id = k.key_id WHERE t.revoked_at IS NULL",
            (),
        ):
            if r["expires_at"] is not None and now >= float(r["expires_at"]):
                continue
            secret = self.master_key.open(r["secret"], purpose=f"terminal:{r['key_id']}:{r['version']}")
            table.setdefault(str(r["key_id"]), []).append(secret)
        return {k: tuple(v) for k, v in table.items()}

    def _forget(self, key_id: str) -> None:
        with self._keys_lock:
            self._keys.pop(key_id, None)

    # -- counts (tests, metrics) ------------------------------------------------------------

    def count(self, table: Literal["payments", "refunds", "invoices", "quotes", "idempotency"]) -> int:
        row = self.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - a literal
        return int(row["n"]) if row is not None else 0

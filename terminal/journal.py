"""The sale journal: SQLite in WAL mode with ``synchronous=FULL``.

A sale is written before any network call, and every state change after it, so a
crash at any point leaves a record that ``reconcile`` can settle. Never stores raw
card data: only a SHA-256 of what the customer presented. The one exception is the
offline queue: a payment taken while the backend is unreachable must be forwarded
later, so its payload (only of the kinds allowed offline: one-time tokens, never a
card's keys) is kept until it has been forwarded, then wiped.

Sale states::

    amount_entered → awaiting_payment → submitting → approved | declined | unknown_outcome
                   ↘ offline_queued → forwarding → approved | declined
    final: approved, declined, expired, cancelled, failed (never charged)
    (a sale `reconcile` failed moves on to approved/declined when the backend's answer still arrives)

Also kept: replay guards (wallet-token nonces and Bolt Card counters seen), refunds,
and the backend's deprecation notices (for ``cryptopos doctor``).

Schema versions are numbered migrations applied in order (``PRAGMA user_version``).

Errors::

    JournalError (Exception)
     ├── JournalOpenError       the file cannot be opened as a journal (not a database, a directory)
     ├── SaleFinalError         a change to a sale that is already settled
     └── ReplayError            a token or card counter that was seen before
"""

from __future__ import annotations

import hashlib
import os
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


class JournalError(Exception):
    pass


class JournalOpenError(JournalError):
    pass


class SaleFinalError(JournalError):
    pass


class ReplayError(JournalError):
    def __init__(self, message: str, *, first_reference: str) -> None:
        super().__init__(message)
        self.first_reference = first_reference


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
    offline: int = 0
    queue_seq: int | None = None
    payload: str | None = None
    payload_kind: str | None = None
    submitted_at: float | None = None
    tip_minor: int | None = None  # part of fiat_minor
    rate: str | None = None  # the quote's rate, fiat per crypto unit, as the backend sent it

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True, slots=True)
class RefundRecord:
    idempotency_key: str
    payment_id: str
    reference: str | None
    amount_minor: int
    asset: str
    to_address: str
    state: str  # submitting | approved-ish status from the backend | unknown_outcome | failed
    refund_id: str | None
    detail: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    api: str
    deprecation: str
    sunset: str | None
    link: str | None
    first_seen: float


def payload_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


class Journal:
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # owner-only: it holds offline payloads until they are forwarded. SQLite gives
                # the -wal and -shm files the database file's permissions.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise JournalOpenError(
                    f"cannot open the journal {path}: {exc}; point journal.path (or --journal) at a"
                    " writable place"
                ) from None
        self._clock = clock
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_db"):
                self._db.close()
            # the file is left untouched: it may hold sales a person has to recover
            raise JournalOpenError(
                f"cannot open the journal {path}: {exc}; point journal.path (or --journal) at the"
                " terminal's journal, or move this file aside to start a new one"
            ) from None

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
        self,
        *,
        reference: str,
        idempotency_key: str,
        fiat_minor: int,
        fiat_currency: str,
        asset: str,
        tip_minor: int | None = None,
    ) -> None:
        now = self._clock()
        with self._tx():
            self._db.execute(
                "INSERT INTO sales (reference, idempotency_key, fiat_minor, fiat_currency, asset, state,"
                " created_at, updated_at, tip_minor) VALUES (?, ?, ?, ?, ?, 'amount_entered', ?, ?, ?)",
                (reference, idempotency_key, fiat_minor, fiat_currency, asset, now, now, tip_minor),
            )
            self._event(reference, "amount_entered", None, now)

    def update(self, reference: str, state: str, *, detail: str | None = None, **fields: object) -> None:
        allowed = {
            "crypto_minor",
            "quote_id",
            "payload_hash",
            "payment_id",
            "reason",
            "idempotency_key",
            "offline",
            "queue_seq",
            "payload",
            "payload_kind",
            "submitted_at",
            "rate",
        }
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not journal fields: {sorted(bad)}")
        now = self._clock()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx():
            row = self._db.execute("SELECT state FROM sales WHERE reference = ?", (reference,)).fetchone()
            # "failed" by reconcile is a deduction (the backend had nothing yet); the backend's own
            # answer for the payment, arriving late from a process still sending it, is the truth
            late_answer = row is not None and row[0] == "failed" and state in ("approved", "declined")
            if (
                row is not None
                and row[0] in FINAL_STATES
                and row[0] != state
                and not (late_answer and fields.get("payment_id"))
            ):
                # a settled sale never changes its outcome (e.g. a sale that `reconcile` closed
                # while another process still held it must not be submitted after all)
                raise SaleFinalError(f"sale {reference} is already {row[0]}; not moving it to {state}")
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

    def sales(
        self,
        *,
        states: tuple[str, ...] | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[SaleRecord]:
        where: list[str] = ["1=1"]
        args: list[object] = []
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += list(states)
        if since is not None:
            where.append("created_at >= ?")
            args.append(since)
        if until is not None:
            where.append("created_at < ?")
            args.append(until)
        rows = self._db.execute(
            # only placeholders are interpolated
            f"SELECT * FROM sales WHERE {' AND '.join(where)} ORDER BY created_at, rowid",  # noqa: S608
            args,
        )
        return [SaleRecord(**dict(r)) for r in rows]

    def unsettled(self) -> list[SaleRecord]:
        """Every sale not in a final state, oldest first."""
        marks = ",".join("?" * len(FINAL_STATES))
        rows = self._db.execute(
            f"SELECT * FROM sales WHERE state NOT IN ({marks}) ORDER BY created_at, rowid",  # noqa: S608
            tuple(FINAL_STATES),
        )
        return [SaleRecord(**dict(r)) for r in rows]

    # -- offline queue ----------------------------------------------------------------

    def queue_offline(self, reference: str, *, payload: str, payload_kind: str) -> int:
        """Put a sale at the end of the offline queue; returns its place (queue_seq)."""
        now = self._clock()
        with self._tx():
            seq = self._db.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM sales").fetchone()[0]
            cur = self._db.execute(
                "UPDATE sales SET state = 'offline_queued', offline = 1, queue_seq = ?, payload = ?,"
                " payload_kind = ?, payload_hash = ?, updated_at = ? WHERE reference = ?",
                (seq, payload, payload_kind, payload_hash(payload), now, reference),
            )
            if cur.rowcount != 1:
                raise KeyError(f"no sale {reference!r} in the journal")
            self._event(reference, "offline_queued", f"queue #{seq}", now)
        return int(seq)

    def offline_queue(self) -> list[SaleRecord]:
        """Sales waiting to be forwarded, in the order they were taken."""
        rows = self._db.execute(
            "SELECT * FROM sales WHERE state IN ('offline_queued', 'forwarding') ORDER BY queue_seq"
        )
        return [SaleRecord(**dict(r)) for r in rows]

    def offline_total(self, fiat_currency: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(SUM(fiat_minor), 0) FROM sales WHERE state IN ('offline_queued', 'forwarding')"
            " AND fiat_currency = ?",
            (fiat_currency,),
        ).fetchone()
        return int(row[0])

    # -- replay guards ------------------------------------------------------------------

    def remember_token(self, kind: str, token: str, reference: str) -> None:
        """Record a one-time token (a wallet token's nonce, a Bolt Card SUN); a second sighting
        raises :class:`ReplayError`. Only the token's hash is kept."""
        digest = payload_hash(token)
        with self._tx():
            row = self._db.execute(
                "SELECT reference FROM seen_tokens WHERE kind = ? AND token_hash = ?", (kind, digest)
            ).fetchone()
            if row is not None:
                raise ReplayError(
                    f"this {kind.replace('_', ' ')} was already presented (sale {row[0]})",
                    first_reference=row[0],
                )
            self._db.execute(
                "INSERT INTO seen_tokens (kind, token_hash, reference, at) VALUES (?, ?, ?, ?)",
                (kind, digest, reference, self._clock()),
            )

    def advance_counter(self, uid: str, counter: int, reference: str) -> None:
        """A Bolt Card's tap counter must grow with every tap; an old or repeated one is a replay."""
        with self._tx():
            row = self._db.execute(
                "SELECT counter, reference FROM card_counters WHERE uid = ?", (uid,)
            ).fetchone()
            if row is not None and counter <= row[0]:
                raise ReplayError(
                    f"card counter {counter} is not above the last one seen ({row[0]}): a replayed tap",
                    first_reference=row[1],
                )
            self._db.execute(
                "INSERT INTO card_counters (uid, counter, reference, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(uid) DO UPDATE SET counter = excluded.counter,"
                " reference = excluded.reference, at = excluded.at",
                (uid, counter, reference, self._clock()),
            )

    # -- refunds ------------------------------------------------------------------------

    def open_refund(
        self,
        *,
        idempotency_key: str,
        payment_id: str,
        reference: str | None,
        amount_minor: int,
        asset: str,
        to: str,
    ) -> RefundRecord:
        """Journal a refund before it is sent; an existing one with the same key is returned."""
        now = self._clock()
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO refunds (idempotency_key, payment_id, reference, amount_minor, asset,"
                " to_address, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'submitting', ?, ?)",
                (idempotency_key, payment_id, reference, amount_minor, asset, to, now, now),
            )
        found = self.refund(idempotency_key)
        assert found is not None
        return found

    def update_refund(
        self, idempotency_key: str, state: str, *, refund_id: str | None = None, detail: str | None = None
    ) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE refunds SET state = ?, refund_id = COALESCE(?, refund_id), detail = ?, updated_at = ?"
                " WHERE idempotency_key = ?",
                (state, refund_id, detail, self._clock(), idempotency_key),
            )

    def refund(self, idempotency_key: str) -> RefundRecord | None:
        row = self._db.execute(
            "SELECT * FROM refunds WHERE idempotency_key = ?", (idempotency_key,)
        ).fetchone()
        return RefundRecord(**dict(row)) if row else None

    def refunds(
        self, *, payment_id: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[RefundRecord]:
        where: list[str] = ["1=1"]
        args: list[object] = []
        if payment_id is not None:
            where.append("payment_id = ?")
            args.append(payment_id)
        if since is not None:
            where.append("created_at >= ?")
            args.append(since)
        if until is not None:
            where.append("created_at < ?")
            args.append(until)
        rows = self._db.execute(
            f"SELECT * FROM refunds WHERE {' AND '.join(where)} ORDER BY created_at",  # noqa: S608
            args,
        )
        return [RefundRecord(**dict(r)) for r in rows]

    def by_payment_id(self, payment_id: str) -> SaleRecord | None:
        row = self._db.execute("SELECT * FROM sales WHERE payment_id = ?", (payment_id,)).fetchone()
        return SaleRecord(**dict(row)) if row else None

    # -- backend notices ----------------------------------------------------------------

    def record_notice(self, *, api: str, deprecation: str, sunset: str | None, link: str | None) -> None:
        with self._tx():
            self._db.execute(
                "INSERT INTO backend_notices (api, deprecation, sunset, link, first_seen)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(api) DO UPDATE SET deprecation = excluded.deprecation,"
                " sunset = excluded.sunset, link = excluded.link",
                (api, deprecation, sunset, link, self._clock()),
            )

    def notices(self) -> list[NoticeRecord]:
        rows = self._db.execute("SELECT * FROM backend_notices ORDER BY api")
        return [NoticeRecord(**dict(r)) for r in rows]

    def events(self, reference: str) -> list[str]:
        rows = self._db.execute("SELECT state FROM sale_events WHERE reference = ? ORDER BY id", (reference,))
        return [r[0] for r in rows]

    def timeline(self, reference: str) -> list[tuple[str, str | None]]:
        """Every step of a sale with its detail (why it became unknown, how it was settled)."""
        rows = self._db.execute(
            "SELECT state, detail FROM sale_events WHERE reference = ? ORDER BY id", (reference,)
        )
        return [(r[0], r[1]) for r in rows]

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

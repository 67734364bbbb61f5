"""The sales: each journaled before any network call and at every state change after it,
their events, and the offline queue."""

from __future__ import annotations

from terminal.journal.base import Book, Where
from terminal.journal.records import SaleFinalError, SaleRecord, payload_hash
from terminal.journal.schema import FINAL_STATES


class SaleBook(Book):
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
        where = Where().among("state", states).at_least("created_at", since).below("created_at", until)
        return [SaleRecord(**dict(r)) for r in self._select("sales", where, "created_at, rowid")]

    def unsettled(self) -> list[SaleRecord]:
        """Every sale not in a final state, oldest first."""
        where = Where().not_among("state", sorted(FINAL_STATES))
        return [SaleRecord(**dict(r)) for r in self._select("sales", where, "created_at, rowid")]

    def by_payment_id(self, payment_id: str) -> SaleRecord | None:
        row = self._db.execute("SELECT * FROM sales WHERE payment_id = ?", (payment_id,)).fetchone()
        return SaleRecord(**dict(row)) if row else None

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

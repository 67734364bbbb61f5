"""Refunds, journaled before they are sent like a sale, by their own idempotency key."""

from __future__ import annotations

from terminal.journal.base import Book, Where
from terminal.journal.records import RefundRecord


class RefundBook(Book):
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
        where = (
            Where().equal("payment_id", payment_id).at_least("created_at", since).below("created_at", until)
        )
        return [RefundRecord(**dict(r)) for r in self._select("refunds", where, "created_at")]

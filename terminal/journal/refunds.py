"""Refunds, journaled before they are sent like a sale, by their own idempotency key."""

from __future__ import annotations

from terminal.journal.audit import AuditBook, amount_text
from terminal.journal.base import Where
from terminal.journal.records import RefundRecord


class RefundBook(AuditBook):
    def open_refund(
        self,
        *,
        idempotency_key: str,
        payment_id: str,
        reference: str | None,
        amount_minor: int,
        asset: str,
        to: str,
        staff_id: str | None = None,
        approval_from: str | None = None,
    ) -> RefundRecord:
        """Journal a refund before it is sent; an existing one with the same key is returned
        (with ``approval_from`` updated: the manager approving this attempt). ``staff_id``: who
        asks for it (default: whoever is signed in)."""
        now = self._clock()
        asked_by = staff_id if staff_id is not None else self.acting_staff
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO refunds (idempotency_key, payment_id, reference, amount_minor, asset,"
                " to_address, state, created_at, updated_at, staff_id, approval_from)"
                " VALUES (?, ?, ?, ?, ?, ?, 'submitting', ?, ?, ?, ?)",
                (
                    idempotency_key,
                    payment_id,
                    reference,
                    amount_minor,
                    asset,
                    to,
                    now,
                    now,
                    asked_by,
                    approval_from,
                ),
            )
            if approval_from is not None:
                self._db.execute(
                    "UPDATE refunds SET approval_from = ? WHERE idempotency_key = ?",
                    (approval_from, idempotency_key),
                )
        found = self.refund(idempotency_key)
        assert found is not None
        return found

    def update_refund(
        self,
        idempotency_key: str,
        state: str,
        *,
        refund_id: str | None = None,
        detail: str | None = None,
        approved_by: str | None = None,
    ) -> None:
        """The refund's new state; every state after ``submitting`` goes into the audit trail
        under who asked for it and the manager who approved it."""
        with self._tx():
            self._db.execute(
                "UPDATE refunds SET state = ?, refund_id = COALESCE(?, refund_id), detail = ?,"
                " approved_by = COALESCE(?, approved_by), updated_at = ? WHERE idempotency_key = ?",
                (state, refund_id, detail, approved_by, self._clock(), idempotency_key),
            )
            row = self._db.execute(
                "SELECT * FROM refunds WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if row is not None and state != "submitting":
                what = f"{state} {amount_text(row['amount_minor'], row['asset'])} to {row['to_address']}"
                self._audit_row(
                    "refund_settled",
                    staff_id=row["staff_id"],
                    approver_id=row["approved_by"],
                    subject=f"{row['payment_id']}" + (f" {row['refund_id']}" if row["refund_id"] else ""),
                    detail=f"{what}; {detail}" if detail else what,
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

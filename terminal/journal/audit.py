"""The audit trail: who did what at the till, and when. Append-only: the database itself refuses
to change or delete a row (triggers of migration 4), so a mistake is corrected by a new row.

Never a PIN, a PIN hash or a key: rows name people by staff id and say what happened.
"""

from __future__ import annotations

from terminal.domain.money import ASSETS, AssetKind, Money
from terminal.journal.base import Book, Where
from terminal.journal.records import AuditRecord

# What the trail records (``event``), past tense like every event in this code.
AUDIT_EVENTS = (
    "signed_in",
    "signed_out",
    "till_locked",
    "pin_failed",
    "locked_out",
    "approved",  # a manager approved an action (refund, settings, cancel, offline)
    "approval_refused",
    "sale_settled",  # a sale reached an outcome (approved, declined, unknown...)
    "refund_settled",
    "setting_changed",
    "staff_added",
    "staff_changed",  # disabled, enabled, renamed, role changed by a sync
    "pin_reset",
    "roster_synced",
)


def amount_text(minor: int | str, code: str) -> str:
    """``12.50 EUR`` for the trail; minor units as they are when the code is not known here."""
    known = ASSETS.get(code)
    try:
        if known is None:
            return f"{minor} {code} (minor units)"
        return Money(int(minor), known).format(trim=known.kind is AssetKind.CRYPTO)
    except ValueError:
        return f"{minor} {code} (minor units)"


class AuditBook(Book):
    acting_staff: str | None

    def audit(
        self,
        event: str,
        *,
        staff_id: str | None,
        approver_id: str | None = None,
        subject: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one row in its own transaction."""
        with self._tx():
            self._audit_row(event, staff_id=staff_id, approver_id=approver_id, subject=subject, detail=detail)

    def _audit_row(
        self,
        event: str,
        *,
        staff_id: str | None,
        approver_id: str | None = None,
        subject: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one row inside the caller's transaction (so it commits with what it records)."""
        if event not in AUDIT_EVENTS:
            raise ValueError(f"not an audit event: {event!r}")
        self._db.execute(
            "INSERT INTO audit (at, event, staff_id, approver_id, subject, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (self._clock(), event, staff_id, approver_id, subject, detail),
        )

    def audit_trail(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        staff_id: str | None = None,
        events: tuple[str, ...] | None = None,
    ) -> list[AuditRecord]:
        """The rows in order; ``staff_id`` matches the person who acted or who approved."""
        where = Where().at_least("at", since).below("at", until).among("event", events)
        rows = self._select("audit", where, "seq")
        out = [AuditRecord(**dict(r)) for r in rows]
        if staff_id is not None:
            out = [r for r in out if staff_id in (r.staff_id, r.approver_id)]
        return out

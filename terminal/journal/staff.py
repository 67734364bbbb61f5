"""The till's staff roster: who may sign in, their role, a cashier's PIN as a salted scrypt hash
(never a manager's: the database refuses one), and their wrong PINs in a row with the lockout,
kept here so a restart does not reset them. Every change is audited in the same transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from terminal.journal.audit import AuditBook
from terminal.journal.base import Where
from terminal.journal.records import JournalError, StaffRecord


class StaffExistsError(JournalError):
    pass


class UnknownStaffError(JournalError):
    pass


def _record(row: sqlite3.Row) -> StaffRecord:
    return StaffRecord(
        staff_id=row["staff_id"],
        name=row["name"],
        role=row["role"],
        disabled=bool(row["disabled"]),
        has_pin=row["pin_hash"] is not None,
        failed_pins=row["failed_pins"],
        locked_until=row["locked_until"],
        origin=row["origin"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class StaffBook(AuditBook):
    def add_staff(
        self, *, staff_id: str, name: str, role: str, pin_hash: str | None, origin: str = "till"
    ) -> StaffRecord:
        now = self._clock()
        with self._tx():
            try:
                self._db.execute(
                    "INSERT INTO staff (staff_id, name, role, pin_hash, origin, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (staff_id, name, role, pin_hash, origin, now, now),
                )
            except sqlite3.IntegrityError as exc:
                if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
                    raise StaffExistsError(f"staff id {staff_id} is already on this till") from None
                raise
            self._audit_row("staff_added", staff_id=self.acting_staff, subject=staff_id, detail=role)
        return self._member(staff_id)

    def staff_member(self, staff_id: str) -> StaffRecord | None:
        row = self._db.execute("SELECT * FROM staff WHERE staff_id = ?", (staff_id,)).fetchone()
        return _record(row) if row else None

    def _member(self, staff_id: str) -> StaffRecord:
        found = self.staff_member(staff_id)
        if found is None:
            raise UnknownStaffError(f"no staff member {staff_id} on this till")
        return found

    def staff(self, *, include_disabled: bool = True) -> list[StaffRecord]:
        where = Where() if include_disabled else Where().equal("disabled", 0)
        return [_record(r) for r in self._select("staff", where, "name, staff_id")]

    def set_disabled(self, staff_id: str, disabled: bool) -> StaffRecord:
        with self._tx():
            self._update(staff_id, "disabled = ?", int(disabled))
            self._audit_row(
                "staff_changed",
                staff_id=self.acting_staff,
                subject=staff_id,
                detail="disabled" if disabled else "enabled",
            )
        return self._member(staff_id)

    def set_pin_hash(self, staff_id: str, pin_hash: str) -> StaffRecord:
        """A cashier's new PIN: the wrong-PIN count and any lockout start again."""
        with self._tx():
            self._update(staff_id, "pin_hash = ?, failed_pins = 0, locked_until = NULL", pin_hash)
            self._audit_row("pin_reset", staff_id=self.acting_staff, subject=staff_id)
        return self._member(staff_id)

    def pin_hash(self, staff_id: str) -> str | None:
        row = self._db.execute("SELECT pin_hash FROM staff WHERE staff_id = ?", (staff_id,)).fetchone()
        return None if row is None else row[0]

    def set_attempts(self, staff_id: str, failures: int, locked_until: float | None) -> None:
        with self._tx():
            self._update(staff_id, "failed_pins = ?, locked_until = ?", failures, locked_until)

    def _update(self, staff_id: str, sets: str, *args: object) -> None:
        # ``sets`` comes from this module's code, values are placeholders
        cur = self._db.execute(
            f"UPDATE staff SET {sets}, updated_at = ? WHERE staff_id = ?",  # noqa: S608
            (*args, self._clock(), staff_id),
        )
        if cur.rowcount != 1:
            raise UnknownStaffError(f"no staff member {staff_id} on this till")

    def sync_roster(self, members: Iterable[tuple[str, str, str, bool]]) -> dict[str, list[str]]:
        """Take the backend's roster (staff_id, name, role, disabled): new members are added, known
        ones follow the backend's name, role and disabled flag, and members learned from the
        backend that it no longer lists are disabled. A cashier added on this till keeps its PIN
        unless the backend makes them a manager (a manager's PIN is never kept here).
        Returns the ids ``added``, ``changed`` and ``removed``."""
        listed = {m[0]: m for m in members}
        report: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
        now = self._clock()
        with self._tx():
            known = {r["staff_id"]: r for r in self._db.execute("SELECT * FROM staff")}
            for staff_id, (_, name, role, disabled) in listed.items():
                row = known.get(staff_id)
                if row is None:
                    self._db.execute(
                        "INSERT INTO staff (staff_id, name, role, disabled, origin, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, 'backend', ?, ?)",
                        (staff_id, name, role, int(disabled), now, now),
                    )
                    self._audit_row(
                        "staff_added", staff_id=self.acting_staff, subject=staff_id, detail=f"{role} (sync)"
                    )
                    report["added"].append(staff_id)
                    continue
                if (row["name"], row["role"], bool(row["disabled"])) == (name, role, disabled):
                    continue
                pin_hash = row["pin_hash"] if role == "cashier" else None
                self._db.execute(
                    "UPDATE staff SET name = ?, role = ?, disabled = ?, pin_hash = ?, updated_at = ?"
                    " WHERE staff_id = ?",
                    (name, role, int(disabled), pin_hash, now, staff_id),
                )
                what = [
                    f"{k} {old} → {new}"
                    for k, old, new in (
                        ("name", row["name"], name),
                        ("role", row["role"], role),
                        ("disabled", bool(row["disabled"]), disabled),
                    )
                    if old != new
                ]
                self._audit_row(
                    "staff_changed",
                    staff_id=self.acting_staff,
                    subject=staff_id,
                    detail="; ".join(what) + " (sync)",
                )
                report["changed"].append(staff_id)
            for staff_id, row in known.items():
                if row["origin"] == "backend" and staff_id not in listed and not row["disabled"]:
                    self._db.execute(
                        "UPDATE staff SET disabled = 1, updated_at = ? WHERE staff_id = ?", (now, staff_id)
                    )
                    self._audit_row(
                        "staff_changed",
                        staff_id=self.acting_staff,
                        subject=staff_id,
                        detail="disabled: no longer on the backend (sync)",
                    )
                    report["removed"].append(staff_id)
            if any(report.values()):  # a sync that changed nothing is not an event
                self._audit_row(
                    "roster_synced",
                    staff_id=self.acting_staff,
                    detail=", ".join(f"{len(v)} {k}" for k, v in report.items()),
                )
        return report

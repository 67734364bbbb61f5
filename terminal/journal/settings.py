"""Settings changed on the till's settings screen, each with the manager who approved it. The
till applies them over its configuration at start (``terminal.staff.tillsettings``)."""

from __future__ import annotations

from terminal.journal.audit import AuditBook
from terminal.journal.records import TillSetting


class SettingsBook(AuditBook):
    def set_till_setting(self, key: str, value: str, *, approved_by: str, shown: str, was: str) -> None:
        """Keep ``value`` (JSON) for ``key``; audited with what it was and what it is now
        (``shown``/``was``: as people read them)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO till_settings (key, value, staff_id, approved_by, at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value, staff_id = excluded.staff_id,"
                " approved_by = excluded.approved_by, at = excluded.at",
                (key, value, self.acting_staff, approved_by, self._clock()),
            )
            self._audit_row(
                "setting_changed",
                staff_id=self.acting_staff,
                approver_id=approved_by,
                subject=key,
                detail=f"{was} → {shown}",
            )

    def till_settings(self) -> list[TillSetting]:
        rows = self._db.execute("SELECT * FROM till_settings ORDER BY key")
        return [TillSetting(**dict(r)) for r in rows]

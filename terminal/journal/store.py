"""The journal itself: the SQLite file (owner-only, WAL, ``synchronous=FULL``), its migrations,
and the backend's deprecation notices; sales, replay guards and refunds come from their books."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from terminal.journal.guards import ReplayGuards
from terminal.journal.records import JournalOpenError, NoticeRecord
from terminal.journal.refunds import RefundBook
from terminal.journal.sales import SaleBook
from terminal.journal.schema import migrate
from terminal.journal.settings import SettingsBook
from terminal.journal.staff import StaffBook


class Journal(SaleBook, ReplayGuards, RefundBook, StaffBook, SettingsBook):
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        # who is signed in at the till: new sales and refunds are recorded under them, and roster
        # changes are audited as theirs (None: nobody, e.g. a headless command)
        self.acting_staff: str | None = None
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
            migrate(self._db)
        except sqlite3.DatabaseError as exc:
            if hasattr(self, "_db"):
                self._db.close()
            # the file is left untouched: it may hold sales a person has to recover
            raise JournalOpenError(
                f"cannot open the journal {path}: {exc}; point journal.path (or --journal) at the"
                " terminal's journal, or move this file aside to start a new one"
            ) from None

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

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

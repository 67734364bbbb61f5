"""The journal itself: the SQLite file (owner-only, WAL, ``synchronous=FULL``), its migrations,
and the backend's deprecation notices; sales, replay guards and refunds come from their books."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from terminal.domain.money import Money, asset
from terminal.journal.guards import ReplayGuards
from terminal.journal.records import JournalDamagedError, JournalOpenError, NoticeRecord
from terminal.journal.refunds import RefundBook
from terminal.journal.sales import SaleBook
from terminal.journal.schema import FINAL_STATES, NewerSchemaError, migrate

_SIDE_FILES = ("", "-wal", "-shm")


class Journal(SaleBook, ReplayGuards, RefundBook):
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # owner-only: it holds offline payloads until they are forwarded. SQLite gives
                # the -wal and -shm files the database file's permissions.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                _owner_only(self.path)  # a journal made by an older version may be 0644
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
            if str(path) != ":memory:":
                _check_integrity(self._db, self.path)
            migrate(self._db)
        except NewerSchemaError as exc:
            self._db.close()
            raise JournalOpenError(
                f"cannot open the journal {path}: {exc}; it was written by a newer cryptopos. Run that"
                " version (or newer) with it; nothing was changed in the file"
            ) from None
        except JournalOpenError:
            self._db.close()
            raise
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


def _owner_only(path: Path) -> None:
    for suffix in _SIDE_FILES:
        side = Path(f"{path}{suffix}")
        try:
            if side.stat().st_mode & 0o077:
                side.chmod(0o600)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise JournalOpenError(
                f"the journal {side} can be read by others and its mode cannot be changed ({exc});"
                " make it owner-only: chmod 600"
            ) from None


def _check_integrity(db: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` on open (O(file size), a few ms for a day's journal): a damaged
    journal must stop the till, not take more sales on top of lost ones."""
    try:
        problems = [str(r[0]) for r in db.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems == ["ok"]:
        return
    copy = _keep_aside(path)
    open_sales = _readable_open_sales(db)
    listed = "".join(
        f"\n    {s['reference']}: {s['state']}, {_amount(s)} in {s['asset']}"
        + (f", payment {s['payment_id']}" if s.get("payment_id") else "")
        for s in open_sales
    )
    raise JournalDamagedError(
        f"the journal {path} is damaged ({'; '.join(problems)[:300]}). Nothing more was written to it."
        + (f" A copy is kept at {copy}." if copy else " It could not be copied aside; keep the file.")
        + (
            f" Open sales that could still be read ({len(open_sales)}):{listed}"
            "\n  Check each with the backend (by its reference) before taking it again: one with a"
            " payment id may have been charged."
            if open_sales
            else " No open sale could be read from it."
        )
        + f"\n  To go on: move {path} away (or point journal.path at a new file) and start again.",
        copy=copy,
        open_sales=open_sales,
    )


def _keep_aside(path: Path) -> str | None:
    """A byte copy of the damaged file (and its WAL) beside it, owner-only; one per damage."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(path.stat().st_mtime))
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    try:
        for suffix in ("", "-wal"):
            src, dst = Path(f"{path}{suffix}"), Path(f"{target}{suffix}")
            if src.exists() and not dst.exists():
                fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
                    shutil.copyfileobj(inp, out)
                    out.flush()
                    os.fsync(out.fileno())
    except OSError:
        return None
    return str(target)


def _readable_open_sales(db: sqlite3.Connection) -> list[dict[str, object]]:
    """What can still be read of the sales not final, row by row (a damaged page ends the scan)."""
    final = sorted(FINAL_STATES)
    found: list[dict[str, object]] = []
    try:
        marks = ", ".join("?" * len(final))
        sql = f"SELECT reference, state, fiat_minor, fiat_currency, asset, payment_id FROM sales WHERE state NOT IN ({marks}) ORDER BY created_at"  # noqa: S608, E501 - placeholders only
        cur = db.execute(sql, final)
        for row in cur:
            found.append(dict(row))
    except sqlite3.DatabaseError:
        pass
    return found


def _amount(sale: dict[str, object]) -> str:
    try:
        money = Money(int(str(sale["fiat_minor"])), asset(str(sale["fiat_currency"])))
        return f"{money.amount_str()} {sale['fiat_currency']}"
    except (ValueError, KeyError):
        return f"{sale['fiat_minor']} (minor units) {sale['fiat_currency']}"

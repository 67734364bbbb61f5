"""What every part of the journal shares: one SQLite connection, the clock, immediate
transactions, and the one builder of a dynamic WHERE clause."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable


class Where:
    """A WHERE clause from the filters a caller gave; a filter given as None is left out.
    Columns come from the code, values only ever as placeholders."""

    def __init__(self) -> None:
        self._terms: list[str] = []
        self.args: list[object] = []

    def _add(self, term: str, *args: object) -> Where:
        self._terms.append(term)
        self.args += args
        return self

    def equal(self, column: str, value: object | None) -> Where:
        return self if value is None else self._add(f"{column} = ?", value)

    def among(self, column: str, values: Iterable[object] | None) -> Where:
        if not values:
            return self
        given = tuple(values)
        return self._add(f"{column} IN ({','.join('?' * len(given))})", *given)

    def not_among(self, column: str, values: Iterable[object]) -> Where:
        given = tuple(values)
        return self._add(f"{column} NOT IN ({','.join('?' * len(given))})", *given)

    def at_least(self, column: str, value: object | None) -> Where:
        return self if value is None else self._add(f"{column} >= ?", value)

    def below(self, column: str, value: object | None) -> Where:
        return self if value is None else self._add(f"{column} < ?", value)

    def __str__(self) -> str:
        return " AND ".join(self._terms) or "1=1"


class Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


class Book:
    """A part of the journal over the shared connection (:class:`~terminal.journal.Journal` opens it)."""

    _db: sqlite3.Connection
    _clock: Callable[[], float]

    def _tx(self) -> Tx:
        return Tx(self._db)

    def _select(self, table: str, where: Where, order: str) -> list[sqlite3.Row]:
        """The rows of ``table`` that match ``where``, in ``order``."""
        # only code-given names and placeholders are interpolated
        sql = f"SELECT * FROM {table} WHERE {where} ORDER BY {order}"  # noqa: S608
        return list(self._db.execute(sql, where.args))

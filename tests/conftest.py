"""Fixtures for the whole suite: the session's PostgreSQL server and ledgers of both kinds."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import KINDS, Ledger, PgServer, key_file, pg_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A real PostgreSQL 16 for the session, started on first use (pgserver)."""
    with pg_server() as server:
        yield server


@pytest.fixture(params=KINDS)
def ledger_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger of each kind: a SQLite file (on tmpfs when there is one) or a new database
    on the session's PostgreSQL server. Parametrize acceptance tests with this, not every test."""
    if request.param == "sqlite":
        shm = Path("/dev/shm")
        where = Path(tempfile.mkdtemp(prefix="cryptopos-test-", dir=shm if shm.is_dir() else None))
        try:
            yield Ledger("sqlite", f"sqlite:///{where / 'ledger.sqlite3'}", key_file(where))
        finally:
            shutil.rmtree(where, ignore_errors=True)
        return
    server: PgServer = request.getfixturevalue("postgres")
    url = server.database()
    try:
        yield Ledger("postgresql", url, key_file(tmp_path))
    finally:
        server.drop(url)

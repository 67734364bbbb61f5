"""Fixtures for the whole suite: the session's PostgreSQL server and ledgers of both kinds."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import KINDS, Ledger, PgServer, key_file, pg_server


@pytest.fixture(autouse=True, scope="module")
def _forget_fastapis_callables() -> Iterator[None]:
    """FastAPI (0.165) classifies each dependency and endpoint callable once, in
    ``lru_cache(maxsize=4096)`` caches of ``fastapi.dependencies.models`` keyed by the callable.
    Our endpoints are closures over their app, so those caches keep up to thousands of apps
    (routes, pydantic validators, stores' contexts) alive. A backend process builds its app once
    and never notices; this suite builds one per test, and by the rollout tests it held a million
    objects (~750 MB), which made each full garbage collection take up to 2 s: pauses that
    stalled the in-process deployments' timings. Emptied after each test module."""
    yield
    from fastapi.dependencies import models

    for cached in vars(models).values():
        clear = getattr(cached, "cache_clear", None)
        if callable(clear):
            clear()


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

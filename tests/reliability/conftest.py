from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from terminal.journal import Journal
from tests.reliability.harness import Backend, ThreadServer


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    b = Backend(tmp_path / "ledger.sqlite3")
    yield b
    b.store.close()


@pytest.fixture
def stub(backend: Backend) -> httpx.AsyncBaseTransport:
    return backend.transport()


@pytest.fixture(params=["v1", "v2"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


@pytest.fixture
def server(backend: Backend) -> Iterator[ThreadServer]:
    s = ThreadServer(backend.app)
    s.start()
    yield s
    s.stop()

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.state import BackendState
from terminal.journal import Journal
from tests.reliability.harness import KEY_ID, SECRET, ThreadServer


@pytest.fixture
def state() -> BackendState:
    return BackendState(keys={KEY_ID: SECRET})


@pytest.fixture
def stub(state: BackendState) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=create_app(state))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


@pytest.fixture
def server(state: BackendState) -> Iterator[ThreadServer]:
    s = ThreadServer(create_app(state))
    s.start()
    yield s
    s.stop()

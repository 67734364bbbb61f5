from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.client.helpers import Backend, Sleeps


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    b = Backend(tmp_path / "ledger.sqlite3")
    yield b
    b.store.close()


@pytest.fixture
def stub_transport(backend: Backend) -> httpx.AsyncBaseTransport:
    return backend.transport()

"""Fixtures of the platform tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend_stub.store import Store


@pytest.fixture
def ledger() -> Iterator[Store]:
    """The shared ledger on tmpfs when the machine has one: these tests are about routing and
    rollouts, and the fsync stalls of a disk shared with other jobs (up to a second seen
    here under load) would only add noise. The store's durability has its own tests."""
    shm = Path("/dev/shm")
    where = tempfile.mkdtemp(prefix="cryptopos-test-", dir=shm if shm.is_dir() else None)
    store = Store(Path(where) / "ledger.sqlite3")
    try:
        yield store
    finally:
        store.close()
        shutil.rmtree(where, ignore_errors=True)

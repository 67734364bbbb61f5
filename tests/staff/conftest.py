from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import KEY_ID, SECRET, Backend
from tests.staff.contract import StaffContract


class StaffedBackend(Backend):
    """The emulated backend behind the staff contract (tests/staff/contract.py)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.contract = StaffContract(self.app, keys={KEY_ID: SECRET})
        self.app = self.contract  # type: ignore[assignment]


@pytest.fixture
def staffed(tmp_path: Path) -> Iterator[StaffedBackend]:
    b = StaffedBackend(tmp_path / "ledger.sqlite3")
    b.contract.add("s_max", "Max Manager", "manager", "1357")
    b.contract.add("s_old", "Old Manager", "manager", "9753", disabled=True)
    b.contract.add("s_cas", "Cass Cashier", "cashier", "2468")
    yield b
    b.store.close()

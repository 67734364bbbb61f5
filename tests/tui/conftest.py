from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tui.harness import Till, make_till

MakeTill = Callable[..., Till]


@pytest.fixture
def make() -> Iterator[MakeTill]:
    """Build tills (closed at teardown): ``make(readers=..., quote_ttl_s=...)``.

    Their journal and ledger live on tmpfs when the machine has one: the same SQLite code and
    fsync calls, without waiting on a disk (these tests are about the screens and the flow)."""
    made: list[Till] = []
    shm = Path("/dev/shm")
    where = Path(tempfile.mkdtemp(prefix="cryptopos-tui-", dir=shm if shm.is_dir() else None))

    def build(**options: Any) -> Till:
        till = make_till(where / f"till{len(made)}", **options)
        made.append(till)
        return till

    yield build
    for till in made:
        till.close()
    shutil.rmtree(where, ignore_errors=True)

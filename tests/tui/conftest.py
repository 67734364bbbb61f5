from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.harness import Till, make_till


@pytest.fixture
def till(tmp_path: Path) -> Iterator[Till]:
    t = make_till(tmp_path)
    yield t
    t.journal.close()

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tui.harness import Till, make_till

MakeTill = Callable[..., Till]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[MakeTill]:
    """Build tills (closed at teardown): ``make(readers=..., quote_ttl_s=...)``."""
    made: list[Till] = []

    def build(**options: Any) -> Till:
        till = make_till(tmp_path / f"till{len(made)}", **options)
        made.append(till)
        return till

    yield build
    for till in made:
        till.close()

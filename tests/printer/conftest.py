"""Fixtures of the printer suite: a network printer on loopback that keeps the bytes it gets."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.printer.fake_printer import FakePrinter


@pytest.fixture
def fake_printer() -> Iterator[Callable[..., FakePrinter]]:
    """``fake_printer(status=None, answers=True)`` starts one; every one started is stopped."""
    started: list[FakePrinter] = []

    def start(status: dict[int, int] | None = None, *, answers: bool = True) -> FakePrinter:
        fp = FakePrinter(status, answers=answers).__enter__()
        started.append(fp)
        return fp

    yield start
    for fp in started:
        fp.__exit__(None, None, None)

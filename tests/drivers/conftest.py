"""Fixtures of the driver suite: emulated cards on nfcpy's udp driver, and generated camera media.

The emulators are real nfcpy code on loopback (``drivers.nfc.emulator``); every one a test starts is
stopped by the fixture. nfcpy's udp reader waits up to 1 s for an answer per poll, and about one
tap in five loses a poll while the emulator re-binds its socket, so tests wait with a bound of
several seconds instead of assuming one poll.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drivers.nfc.emulator import IsoDepEmulator, Tap, Type3TagEmulator
from tests.drivers.helpers import free_udp_port


@pytest.fixture
def udp_port() -> int:
    return free_udp_port()


@pytest.fixture
def emulator(udp_port: int) -> Iterator[Callable[..., Any]]:
    """``emulator("isodep"|"type3", taps, **kw)`` starts an emulator on ``udp_port``."""
    started: list[Any] = []

    def start(kind: str, taps: list[Tap], **kw: Any) -> Any:
        cls = IsoDepEmulator if kind == "isodep" else Type3TagEmulator
        emu = cls(udp_port, taps, **kw).start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()

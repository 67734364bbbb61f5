"""Real-time status bytes (DLE EOT 1/2/4) to what stops a receipt and what only warns."""

from __future__ import annotations

import pytest

from drivers.printer.status import (
    COVER_OPEN,
    ERROR,
    OFFLINE,
    PAPER_LOW,
    PAPER_OUT,
    decode_status,
    is_status_byte,
)


@pytest.mark.parametrize(
    ("replies", "problems", "warnings"),
    [
        ({1: 0x12, 2: 0x12, 4: 0x12}, (), ()),
        ({1: 0x1A, 2: 0x32, 4: 0x72}, (PAPER_OUT,), ()),  # offline because the paper ran out
        ({1: 0x1A, 2: 0x16, 4: 0x12}, (COVER_OPEN,), ()),
        ({1: 0x1A, 2: 0x36, 4: 0x72}, (PAPER_OUT, COVER_OPEN), ()),
        ({1: 0x1A, 2: 0x52}, (ERROR,), ()),
        ({1: 0x1A}, (OFFLINE,), ()),  # offline, and it gives no cause
        ({1: 0x12, 2: 0x12, 4: 0x1E}, (), (PAPER_LOW,)),
    ],
)
def test_status_bytes(replies: dict[int, int], problems: tuple[str, ...], warnings: tuple[str, ...]) -> None:
    status = decode_status(replies)
    assert status.reported
    assert status.problems == problems and status.warnings == warnings
    assert status.ready is (not problems)
    assert bool(status.hint) is bool(problems)


def test_bytes_that_are_not_status_replies_are_not_read_as_faults() -> None:
    # 0xFF / 'A' do not have the fixed bits 0xx1xx10 of a status byte
    assert not is_status_byte(0xFF) and not is_status_byte(ord("A")) and is_status_byte(0x12)
    status = decode_status({1: 0xFF, 2: ord("A")})
    assert not status.reported and status.ready
    assert decode_status({}).ready


def test_a_status_read_that_times_out_is_told_from_a_broken_link() -> None:
    from drivers.printer.connection import _timed_out

    class USBTimeoutError(OSError):  # pyusb's, which is no TimeoutError
        pass

    assert _timed_out(USBTimeoutError(110, "Operation timed out"))
    assert _timed_out(TimeoutError("timed out"))  # sockets (socket.timeout)
    assert not _timed_out(ConnectionResetError(104, "Connection reset by peer"))

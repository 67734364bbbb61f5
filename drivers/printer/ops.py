"""What a receipt is made of, for a printer: a list of operations, no bytes, no I/O.

The terminal lays a receipt out as these values (one :class:`Line` per printed line, already
fitted to the paper's columns); :func:`drivers.printer.encode.encode` turns them into ESC/POS
bytes for one printer profile; a connection sends the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Align = Literal["left", "center", "right"]


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line. ``double``: double width and height (half the columns)."""

    text: str
    bold: bool = False
    align: Align = "left"
    double: bool = False


@dataclass(frozen=True, slots=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code, centred. ``module``: printer dots per module (1-16); error correction M."""

    payload: str
    module: int = 6


@dataclass(frozen=True, slots=True)
class Cut:
    partial: bool = False


Op = Line | Feed | QrCode | Cut


def printable(text: str) -> str:
    """``text`` without control characters: ESC/POS has no escaping, so an ESC or GS inside a
    merchant name or a backend's id would be a command to the printer (a cut, a reset)."""
    return "".join(
        "?" if (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029") else ch for ch in text
    )

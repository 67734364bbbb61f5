"""Real-time status of an ESC/POS printer (``DLE EOT n``), decoded without I/O.

A printer answers each ``DLE EOT n`` with one byte whose fixed bits read ``0xx1xx10``; a byte
that does not has not come from the status command (a printer that does not support it, or
noise), and is ignored rather than read as a fault.

* n=1 printer status: bit 3 offline.
* n=2 offline cause: bit 2 cover open, bit 5 printing stopped at the paper's end, bit 6 an error.
* n=4 roll paper sensor: bits 2-3 near the end, bits 5-6 paper end.
"""

from __future__ import annotations

from dataclasses import dataclass

DLE_EOT = b"\x10\x04"
QUERIES = (1, 2, 4)  # the status, the offline cause, the paper sensor

# the problems a printer can report, each with what the cashier does about it
PAPER_OUT = "paper out"
COVER_OPEN = "cover open"
OFFLINE = "offline"
ERROR = "printer error"
PAPER_LOW = "paper low"

HINTS = {
    PAPER_OUT: "put in a new paper roll and close the cover, then print again",
    COVER_OPEN: "close the printer's cover, then print again",
    ERROR: "clear the paper jam or the cutter, switch the printer off and on, then print again",
    OFFLINE: "check the printer (its error light, the feed button), then print again",
}


def is_status_byte(byte: int) -> bool:
    return byte & 0x93 == 0x12


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer reported; ``reported`` is False when it answered no status query."""

    reported: bool
    problems: tuple[str, ...] = ()  # stop printing: paper out, cover open, error, offline
    warnings: tuple[str, ...] = ()  # print, but say so: paper low

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def hint(self) -> str:
        return HINTS[self.problems[0]] if self.problems else ""


def decode_status(replies: dict[int, int]) -> PrinterStatus:
    """``replies``: query number n -> the byte the printer answered (missing: no answer)."""
    valid = {n: b for n, b in replies.items() if is_status_byte(b)}
    if not valid:
        return PrinterStatus(reported=False)
    problems: list[str] = []
    warnings: list[str] = []
    cause = valid.get(2)
    paper = valid.get(4)
    if paper is not None and paper & 0x60:
        problems.append(PAPER_OUT)
    if cause is not None:
        if cause & 0x20 and PAPER_OUT not in problems:
            problems.append(PAPER_OUT)
        if cause & 0x04:
            problems.append(COVER_OPEN)
        if cause & 0x40:
            problems.append(ERROR)
    status = valid.get(1)
    if status is not None and status & 0x08 and not problems:
        problems.append(OFFLINE)
    if paper is not None and paper & 0x0C and PAPER_OUT not in problems:
        warnings.append(PAPER_LOW)
    return PrinterStatus(reported=True, problems=tuple(problems), warnings=tuple(warnings))

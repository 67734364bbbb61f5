"""One line of progress on stderr for long commands (``reconcile``, ``scan``), rewritten in place,
and only when stderr is a terminal: in a pipe or a log file nothing is written, so a script sees
exactly the command's output."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

__all__ = ["Progress"]

MIN_INTERVAL_S = 0.1  # a redraw at most this often (the last step is always drawn)


class Progress:
    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.on = self.stream.isatty()
        except (AttributeError, ValueError):  # a closed or unusual stream: stay quiet
            self.on = False
        self._drawn_at = 0.0
        self._dirty = False

    def step(self, done: int, total: int, note: str = "") -> None:
        if not self.on:
            return
        now = time.monotonic()
        if done < total and now - self._drawn_at < MIN_INTERVAL_S:
            return
        self._drawn_at = now
        width = shutil.get_terminal_size((80, 24)).columns
        line = f"{self.label} {done}/{total}" + (f"  {note}" if note else "")
        # \r and erase-to-end: the line is redrawn in place, never scrolls
        self.stream.write("\r" + line[: max(width - 1, 10)] + "\x1b[K")
        self.stream.flush()
        self._dirty = True

    def close(self) -> None:
        """Erase the line, so what the command prints next starts on a clean line."""
        if self.on and self._dirty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._dirty = False

"""One writer for docs/BENCHMARKS.md: each bench script owns the block between its own markers."""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


def write_section(script: str, title: str, lines: list[str]) -> Path:
    """Replace ``<!-- bench/SCRIPT begin -->``...``end -->`` (or append it) with ``title`` and ``lines``."""
    begin, end = f"<!-- bench/{script} begin -->", f"<!-- bench/{script} end -->"
    block = "\n".join([begin, f"## {title} (bench/{script})", "", *lines, end])
    text = PATH.read_text() if PATH.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    PATH.write_text(text)
    return PATH

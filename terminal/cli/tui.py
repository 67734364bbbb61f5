"""``cryptopos tui`` (also ``cryptopos`` with no command): the merchant screen.

``--printer DEVICE`` prints receipts and the Z-report there instead of on ``[printer] device``.
``--demo`` runs it on the embedded default: the in-process backend, a journal in a
temporary folder, and simulated readers that present a payment when a key is pressed
(t tap, s scan, b Bolt Card, d declined card).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from terminal.cli.common import load


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--demo", action="store_true", help="embedded backend and simulated readers with keys")
    p.add_argument("--journal", help="journal path (default: journal.path; with --demo, a temporary one)")
    p.add_argument(
        "--printer",
        metavar="DEVICE",
        help="the receipt printer (default: [printer] device), e.g. printer:net:HOST",
    )


def run(args: argparse.Namespace) -> int:
    from terminal.tui import DEMO_READERS, run_tui

    journal = getattr(args, "journal", None)
    printer = (getattr(args, "printer", None), "--printer")
    if not getattr(args, "demo", False):
        return run_tui(load(args, {"journal.path": (journal, "--journal"), "printer.device": printer}))
    with tempfile.TemporaryDirectory(prefix="cryptopos-demo-") as tmp:
        loaded = load(
            args,
            {
                "backend.url": ("embedded", "--demo"),
                "journal.path": (
                    journal or str(Path(tmp) / "journal.sqlite3"),
                    "--journal" if journal else "--demo",
                ),
                "terminal.readers": (list(DEMO_READERS), "--demo"),
                "printer.device": printer,
            },
        )
        return run_tui(loaded, demo=True)

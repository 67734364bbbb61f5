"""``cryptopos demo``: a short scripted headless run of a few payments on the embedded default.

Until the merchant TUI exists this is what ``make demo`` shows: simulated readers, the
in-process backend, a journal in a temporary folder, and one line per payment.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from terminal.cli.common import EXIT_OK, PARENT, load
from terminal.cli.pay import human_summary, take_payment
from terminal.domain.money import Money, asset

SCRIPT = [
    ("12.50", "BTC", "sim:nfc", "a tap of the demo card"),
    ("4.20", "BTC-LN", "sim:qr", "a QR shown to the camera"),
    ("99.99", "ETH", "sim:nfc?payload=cryptopos-test:card:decline", "a card the backend declines"),
    ("7.00", "SOL", "sim:nfc", "another tap"),
]


def register(sub: Any) -> None:
    p = sub.add_parser("demo", parents=[PARENT], help="a scripted headless demo on the embedded backend")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="cryptopos-demo-") as tmp:
        loaded = load(
            args,
            {
                "backend.url": ("embedded", "demo"),
                "journal.path": (str(Path(tmp) / "journal.sqlite3"), "demo"),
            },
        )
        settings = loaded.settings
        print(
            f"cryptopos demo: {settings.merchant.name}, terminal {settings.terminal.id}, embedded backend\n"
        )
        for amount_text, code, reader, what in SCRIPT:
            s = settings.model_copy(
                update={"terminal": settings.terminal.model_copy(update={"readers": (reader,)})}
            )
            amount = Money.parse(amount_text, settings.terminal.fiat_currency)
            print(f"-- {what} ({reader})")
            # each sale its own embedded backend: a client closes its transport (and the
            # deployment behind it) when the sale ends, so one cannot be shared between sales
            report = asyncio.run(take_payment(s, amount, asset(code)))
            print(human_summary(report) + "\n")
    return EXIT_OK

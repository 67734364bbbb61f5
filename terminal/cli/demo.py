"""``cryptopos demo``: a short scripted headless run of a few payments on the embedded default.

What ``make demo`` shows where there is no terminal for the TUI (CI, a pipe): simulated
readers, the in-process backend, a journal in a temporary folder, one summary per payment.
All sales share one client and so one embedded backend, as a till's day would.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from terminal.cli.common import EXIT_FAILED, EXIT_OK, load
from terminal.cli.pay import human_summary, notice_recorder

if TYPE_CHECKING:
    from terminal.config import Settings

# (fiat amount, asset, reader, what it shows, the status it should end in)
SCRIPT = [
    ("12.50", "BTC", "sim:nfc", "a tap of the demo card", "approved"),
    ("4.20", "BTC-LN", "sim:qr", "a QR shown to the camera", "approved"),
    (
        "99.99",
        "ETH",
        "sim:nfc?payload=cryptopos-test:card:decline",
        "a card the backend declines",
        "declined",
    ),
    ("7.00", "SOL", "sim:nfc", "another tap", "approved"),
]


def arguments(p: argparse.ArgumentParser) -> None:
    pass  # no arguments but --config


def run(args: argparse.Namespace) -> int:
    import asyncio

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
        surprises = asyncio.run(play(settings))
    # the script says how each sale should end; a demo that silently went wrong is a failed demo
    return EXIT_FAILED if surprises else EXIT_OK


async def play(settings: Settings) -> int:
    """Run the script; return how many sales did not end as the script expects."""
    from terminal.client.factory import client_from_settings
    from terminal.domain.money import Money, asset
    from terminal.journal import Journal
    from terminal.sale import SaleRunner, offline_policy

    journal = Journal(settings.journal.path)
    surprises = 0
    try:
        async with client_from_settings(settings, on_notice=notice_recorder(journal)) as client:
            for amount_text, code, reader, what, expected in SCRIPT:
                runner = SaleRunner(
                    client=client,
                    journal=journal,
                    terminal_id=settings.terminal.id,
                    readers=[reader],
                    payment_wait_s=settings.timeouts.payment_wait_s,
                    offline=offline_policy(settings),
                )
                print(f"-- {what} ({reader})")
                report = await runner.run(
                    Money.parse(amount_text, settings.terminal.fiat_currency), asset(code)
                )
                print(human_summary(report) + "\n")
                surprises += report.status != expected
    finally:
        journal.close()
    return surprises

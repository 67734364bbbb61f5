"""Screenshots of the merchant TUI's main screens for the README.

Drives ``cryptopos tui --demo`` (embedded backend, simulated readers, a journal in a
temporary folder) with key presses at 80×24, saves each screen as SVG (Textual) and
converts it to PNG with rsvg-convert into ``docs/screenshots/``.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from terminal.config import load_settings
from terminal.domain.session import State
from terminal.staff.demo import DemoStaff
from terminal.tui import DEMO_READERS, build_app
from terminal.tui.pictures import svg_to_png

REPO = Path(__file__).resolve().parents[1]


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            await pilot.pause(0.1)
            return
        await pilot.pause(0.05)
    raise SystemExit(f"screenshots: timed out waiting for {what}")


async def shoot(out: Path) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="cryptopos-shots-") as tmp:
        loaded = load_settings(
            overrides={
                "backend.url": ("embedded", "screenshots"),
                "journal.path": (str(Path(tmp) / "journal.sqlite3"), "screenshots"),
                "terminal.readers": (list(DEMO_READERS), "screenshots"),
            }
        )
        # the PINs the README quotes (a real demo draws them fresh)
        staff = DemoStaff(cashier_pin="4821", manager_pin="7305")
        app = build_app(loaded, demo=True, demo_staff=staff)
        register = app.register
        saved: list[Path] = []

        def save(name: str) -> None:
            app.clear_notifications()
            saved.append(svg_to_png(app.export_screenshot(title=f"cryptopos — {name}"), out / f"{name}.png"))

        async def screen(pilot: Pilot[Any], name: str) -> None:
            await until(pilot, lambda: type(pilot.app.screen).__name__ == name, name)

        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: register.backend.connected is True, "the backend")
            await screen(pilot, "SignInScreen")
            save("signin")
            await pilot.press(*staff.cashier_pin, "enter")  # the cashier is first in the list
            await screen(pilot, "AmountScreen")
            await pilot.press("1", "2", "full_stop", "5")
            await pilot.pause(0.1)
            save("amount")
            await pilot.press("enter")
            await screen(pilot, "TipScreen")
            save("tip")
            await pilot.press("1")
            await screen(pilot, "AssetScreen")
            save("asset")
            await pilot.press("1")
            await screen(pilot, "WaitingScreen")
            await until(
                pilot,
                lambda: (
                    len(register.readers) == 2 and all(r.state == "ready" for r in register.readers.values())
                ),
                "the readers",
            )
            save("waiting")
            await pilot.press("b")  # a simulated Bolt Card tap
            await until(pilot, lambda: register.session.state is State.APPROVED, "approval")
            await screen(pilot, "ResultScreen")
            save("approved")
            await pilot.press("p")
            await screen(pilot, "ReceiptScreen")
            save("receipt")
            await pilot.press("enter")
            await until(pilot, lambda: register.session.state is State.IDLE, "a new sale")
            await pilot.press("9", "enter")
            await screen(pilot, "TipScreen")
            await pilot.press("n")
            await screen(pilot, "AssetScreen")
            await pilot.press("3")
            await screen(pilot, "WaitingScreen")
            await pilot.press("d")
            await until(pilot, lambda: register.session.state is State.DECLINED, "the decline")
            await screen(pilot, "ResultScreen")
            save("declined")
            await pilot.press("h")
            await screen(pilot, "HistoryScreen")
            save("history")
            await pilot.press("escape", "enter", "r")
            await screen(pilot, "ReportScreen")
            save("report")
            await pilot.press("escape", "s")
            await screen(pilot, "SettingsScreen")
            await pilot.pause(0.5)  # the doctor's checks
            save("settings")
        register.journal.close()
        return saved


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    for path in asyncio.run(shoot(args.out)):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    sys.exit(main())

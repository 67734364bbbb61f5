"""The till in a real browser: ``cryptopos serve --demo`` driven by Debian's headless Chromium
through Playwright. Type an amount, pick a tip and an asset, press the demo tap key, and find
the sale APPROVED.

textual-serve draws the terminal on a canvas (the page has no text to read) and sends keys to
the app only after a click on the terminal, so the test reads the till's own state, the journal
of this serve run, and keeps a screenshot; ``SCREENSHOTS_TO_DOCS=1`` also writes it to
docs/screenshots/browser.png for the README.

Chromium comes from apt (``scripts/bootstrap.sh`` installs it as root); without it this test
fails saying how to install it: a browser test that skips would hide a missing feature.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.serve.helpers import REPO, served

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sale_state(journal: Path) -> tuple[Any, ...] | None:
    """The newest sale in the served till's journal: (state, fiat_minor, asset, payment_id, tip_minor,
    rate)."""
    if not journal.exists():
        return None
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(  # type: ignore[no-any-return]
            "SELECT state, fiat_minor, asset, payment_id, tip_minor, rate FROM sales"
            " ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError:  # the till has not created its tables yet
        return None
    finally:
        db.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float, page: Any, shots: Path) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            page.screenshot(path=str(shots / "failed.png"))
            raise AssertionError(f"{what} within {timeout:.0f} s; the page as it was: {shots / 'failed.png'}")
        time.sleep(0.1)


def settled(page: Any, timeout: float = 10.0, *, still: float = 0.4) -> bytes:
    """A screenshot once the page has not changed for ``still`` seconds: the canvas is drawn."""
    deadline = time.monotonic() + timeout
    last, since = page.screenshot(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        shot = page.screenshot()
        if shot != last:
            last, since = shot, time.monotonic()
        elif time.monotonic() - since >= still:
            return bytes(shot)
    raise AssertionError(f"the page kept changing for {timeout:.0f} s")


def press(page: Any, key: str, timeout: float = 15.0) -> None:
    """Press ``key`` once the screen is still, and wait until the till has drawn its answer: a key
    sent while the next screen is still being mounted would be lost."""
    before = settled(page)
    page.keyboard.press(key)
    deadline = time.monotonic() + timeout
    while page.screenshot() == before:
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen did not change after {key!r} within {timeout:.0f} s")
        time.sleep(0.1)
    settled(page)


def green_share(png: bytes) -> float:
    """How much of the picture is green: the result's APPROVED banner, the status bar's 'online'."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return float(((g > 120) & (g > r + 40) & (g > b + 40)).mean())


def test_a_sale_in_the_browser_is_approved(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is not installed, so the browser test of `cryptopos serve` cannot run: "
            "sudo apt-get install --no-install-recommends chromium (scripts/bootstrap.sh does it as root)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright (Python) is missing: pip install -e '.[dev]' (make bootstrap)")
    journal = tmp_path / "journal.sqlite3"
    with served("--demo", "--journal", str(journal)) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 640})
            # the page also asks the internet for a web font: do not wait for that
            page.goto(url + "/", wait_until="domcontentloaded")
            # the till's first output, or the page's "session ended" when it exited at once
            page.wait_for_function(
                "['-first-byte', '-closed'].some(c => document.body.classList.contains(c))",
                polling=100,
                timeout=30_000,
            )
            assert "-closed" not in page.evaluate("document.body.className"), (
                "the served till exited at start"
            )
            # the status bar says online (in green) once the till has reached its backend
            wait_for(
                "the till online",
                lambda: (
                    green_share(page.screenshot(clip={"x": 0, "y": 0, "width": 400, "height": 20})) > 0.02
                ),
                30,
                page,
                tmp_path,
            )
            page.click("#terminal")  # keys reach the till only once the terminal has the focus
            for key in ("1", "2", "Enter", "1", "1"):  # 12.00 EUR, tip 10 %, the first asset (BTC)
                press(page, key)
            waiting = wait_for(
                "the sale waiting for a payment",
                lambda: (row := sale_state(journal)) and row[0] == "awaiting_payment" and row,
                30,
                page,
                tmp_path,
            )
            assert waiting[1:3] == (1320, "BTC")  # 12.00 EUR and its 10 % tip
            page.keyboard.press("t")  # the demo card taps
            state, fiat, code, payment_id, tip, rate = wait_for(
                "an approved sale in the journal",
                lambda: (
                    (row := sale_state(journal)) and row[0] not in ("awaiting_payment", "submitting") and row
                ),
                30,
                page,
                tmp_path,
            )
            assert (state, fiat, code, tip) == ("approved", 1320, "BTC", 120) and payment_id and rate
            # the result screen's green APPROVED banner, just under the status bar
            wait_for(
                "the APPROVED screen",
                lambda: (
                    green_share(page.screenshot(clip={"x": 0, "y": 20, "width": 300, "height": 60})) > 0.05
                ),
                10,
                page,
                tmp_path,
            )
            shot = settled(page, still=1.0)  # the picture for the README: the footer drawn too
            (tmp_path / "browser.png").write_bytes(shot)
        finally:
            browser.close()
    if os.environ.get("SCREENSHOTS_TO_DOCS"):
        shutil.copyfile(tmp_path / "browser.png", REPO / "docs" / "screenshots" / "browser.png")

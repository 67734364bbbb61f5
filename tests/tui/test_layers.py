"""The TUI's layering: screens and widgets render and send intents; only the register
touches the client, the journal's writers and drivers. Heavy libraries stay unloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.foundation.test_layering import forbidden, imports_of

TUI = Path(__file__).resolve().parents[2] / "terminal" / "tui"
# what a screen or widget must never reach for: the network, the session runner, drivers
SCREEN_FORBIDDEN = {
    "httpx",
    "terminal.client",
    "terminal.sale",
    "drivers.registry",
    "drivers.sim",
    "nfc",
    "cv2",
    "pyzbar",
    "zxingcpp",
    "sqlite3",
    "backend_stub",
    # the app and the register import the screens: a screen reaches them through base.Host
    "terminal.tui.app",
    "terminal.tui.controller",
    "terminal.tui.till",
}


def test_screens_and_widgets_never_import_io() -> None:
    files = sorted((TUI / "screens").glob("*.py")) + sorted((TUI / "widgets").glob("*.py"))
    assert files
    offenders = {str(p.name): forbidden(imports_of(p), SCREEN_FORBIDDEN) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_controller_does_not_import_textual() -> None:
    for path in [TUI / n for n in ("controller.py", "updates.py", "keypad.py")] + sorted(
        (TUI / "till").glob("*.py")
    ):
        assert forbidden(imports_of(path), {"textual", "rich"}) == set()


def test_the_app_imports_no_reader_library_or_backend() -> None:
    code = (
        "import sys, terminal.tui.app, terminal.cli\n"
        "bad = sorted(m for m in ('nfc', 'cv2', 'pyzbar', 'zxingcpp', 'numpy', 'fastapi', 'backend_stub')"
        " if m in sys.modules)\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

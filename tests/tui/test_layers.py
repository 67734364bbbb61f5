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


# what the till does not need before its first screen takes a key: the client (httpx) is built
# after first paint, the embedded backend in a thread, readers when a sale asks for them, and
# a payload format's parser when a payload of it is read
NOT_AT_FIRST_PAINT = (
    "nfc",
    "cv2",
    "pyzbar",
    "zxingcpp",
    "numpy",
    "fastapi",
    "backend_stub",
    "httpx",
    "terminal.client.client",
    "terminal.domain.payloads.bolt11",
    "terminal.domain.payloads.ethereum",
    "terminal.domain.payloads.ndef",
)


def test_the_app_imports_no_reader_library_or_backend() -> None:
    code = (
        "import sys, terminal.tui.app, terminal.cli\n"
        f"bad = sorted(m for m in {NOT_AT_FIRST_PAINT!r} if m in sys.modules)\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_building_the_demo_till_loads_no_client_or_backend(tmp_path: Path) -> None:
    # what `cryptopos tui --demo` does before the app runs: settings, journal, register, demo card
    code = (
        "import sys\n"
        "from terminal.config import load_settings\n"
        "from terminal.tui import DEMO_READERS, build_app\n"
        "loaded = load_settings(env={}, overrides={'backend.url': ('embedded', 't'),"
        f" 'journal.path': ({str(tmp_path / 'journal.sqlite3')!r}, 't'),"
        " 'terminal.readers': (list(DEMO_READERS), 't')})\n"
        "app = build_app(loaded, demo=True)\n"
        "assert type(app.get_default_screen()).__name__ == 'AmountScreen'\n"
        f"bad = sorted(m for m in {NOT_AT_FIRST_PAINT!r} if m in sys.modules)\n"
        "app.register.journal.close()\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == ""

"""What a command loads, in a fresh interpreter: the command line answers fast because a command
imports only what its work needs (bench/startup.py has the times).

- ``cryptopos --help`` is built from the command table: no command module, nothing heavy;
- ``cryptopos NAME --help`` imports NAME's module for its arguments, still nothing heavy;
- ``parse`` loads the one payload format it meets: no settings model, no httpx, no cffi;
- ``pay`` loads the embedded backend only when it is the backend, and no reader library for
  simulated readers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.cli import COMMANDS, Command
from tests.foundation.test_layering import forbidden

REPO = Path(__file__).resolve().parents[2]
BIP21 = "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.001"
EIP681 = "ethereum:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359@1?value=2.014e18"
READER_LIBRARIES = {"nfc", "cv2", "numpy", "pyzbar", "zxingcpp"}
EMBEDDED_BACKEND = {"backend_stub", "fastapi", "starlette", "uvicorn"}
# pycryptodome's keccak loads cffi, which parses C declarations with pycparser at import
CFFI = {"Crypto", "cffi", "pycparser"}
# what no --help may load: the settings model, the client, every payload parser and its crypto,
# the journal, the sale core, the TUI, the readers and the embedded backend
HEAVY = {
    "pydantic",
    "httpx",
    "coincurve",
    "cryptography",
    "idna",
    "regex",
    "ndef",
    "textual",
    "rich",
    "sqlite3",
    "asyncio",
    "terminal.config",
    "terminal.client",
    "terminal.domain.payloads",
    "terminal.journal",
    "terminal.sale",
    "terminal.tui",
    "drivers.sim",
    "drivers.nfc",
    *READER_LIBRARIES,
    *EMBEDDED_BACKEND,
    *CFFI,
}

CHILD = """
import json, sys
from terminal.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:  # --help
    code = exc.code
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def loaded_by(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    """(exit code, every module loaded) after ``cryptopos ARGV`` in a fresh interpreter, run in an
    empty folder with no CRYPTOPOS_ variable (so no config file or override is read)."""
    out = tmp_path / "loaded.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOPOS_")}
    subprocess.run(
        [sys.executable, "-c", CHILD, str(out), *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.read_text())
    return result["code"], set(result["modules"])


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    code, mods = loaded_by(tmp_path, "--help")
    assert code == 0
    assert forbidden(mods, HEAVY) == set()
    commands = {m for m in mods if m.startswith("terminal.cli.")}
    assert commands == {"terminal.cli.common"}


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c.name)
def test_a_commands_help_loads_nothing_heavy(tmp_path: Path, cmd: Command) -> None:
    code, mods = loaded_by(tmp_path, cmd.name, "--help")
    assert code == 0
    assert f"terminal.cli.{cmd.module}" in mods
    assert forbidden(mods, HEAVY) == set()


def test_parse_bip21_loads_the_bitcoin_parser_alone(tmp_path: Path) -> None:
    code, mods = loaded_by(tmp_path, "parse", BIP21, "--json")
    assert code == 0
    assert "terminal.domain.payloads.bitcoin" in mods
    other_formats = {"terminal.domain.payloads.keccak", "terminal.domain.payloads.bolt11"}
    assert forbidden(mods, HEAVY - {"terminal.domain.payloads"} | other_formats) == set()


def test_parse_eip681_loads_keccak_but_not_cffi(tmp_path: Path) -> None:
    code, mods = loaded_by(tmp_path, "parse", EIP681, "--json")
    assert code == 0
    assert {"terminal.domain.payloads.ethereum", "terminal.domain.payloads.keccak"} <= mods
    assert (
        forbidden(mods, HEAVY - {"terminal.domain.payloads"} | {"terminal.domain.payloads.bitcoin"}) == set()
    )


def test_pay_with_a_url_backend_loads_no_embedded_backend(tmp_path: Path) -> None:
    # nothing listens on the discard port: the sale ends unreachable (offline payments are off)
    code, mods = loaded_by(
        tmp_path,
        *("pay", "--amount", "1.00", "--reader", "sim:nfc", "--no-reconcile", "--json"),
        *("--backend", "http://127.0.0.1:9", "--journal", str(tmp_path / "journal.sqlite3")),
    )
    assert code == 1
    assert {"httpx", "pydantic", "drivers.sim"} <= mods  # what the sale does need
    assert forbidden(mods, EMBEDDED_BACKEND | READER_LIBRARIES | CFFI) == set()


def test_pay_with_the_embedded_backend_loads_it_and_no_reader_library(tmp_path: Path) -> None:
    code, mods = loaded_by(
        tmp_path,
        *("pay", "--amount", "1.00", "--reader", "sim:nfc", "--no-reconcile", "--json"),
        *("--backend", "embedded", "--journal", str(tmp_path / "journal.sqlite3")),
    )
    assert code == 0
    assert "backend_stub" in mods
    assert forbidden(mods, READER_LIBRARIES | CFFI) == set()

"""The payload parsers are domain code: importing them pulls in no I/O, UI or driver library."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("httpx", "sqlite3", "textual", "nfc", "cv2", "pyzbar", "backend_stub", "socket", "asyncio")


def test_import_is_pure() -> None:
    code = (
        "import sys, terminal.domain.payloads\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_parse_ndef_bytes_finds_content() -> None:
    from terminal.domain.payloads import BoltCardTap, parse_ndef
    from terminal.domain.payloads.ndef import encode_uri_message
    from terminal.domain.payloads.samples import TAP

    msg = parse_ndef(encode_uri_message(TAP))
    assert isinstance(msg.content, BoltCardTap)

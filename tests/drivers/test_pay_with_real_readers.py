"""A whole sale through the terminal with the real reader code: nfcpy over udp, OpenCV on a video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drivers.camera import synth
from drivers.nfc import cards
from drivers.nfc.emulator import Tap
from terminal.cli import main


def pay(capsys: pytest.CaptureFixture[str], tmp_path: Path, reader: str) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "pay",
            "--amount",
            "4.20",
            "--currency",
            "EUR",
            "--asset",
            "BTC",
            "--reader",
            reader,
            "--backend",
            "embedded",
            "--journal",
            str(tmp_path / "journal.sqlite3"),
            "--wait",
            "20",
            "--json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_tap_on_an_nfcpy_reader_pays(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, emulator: Any, udp_port: int
) -> None:
    tag = cards.type4_tag(cards.ndef_message("cryptopos-test:card:approve"))
    # the card is tapped a moment after the quote is on screen
    emulator("isodep", [Tap(card=tag, delay=0.3)])
    code, out = pay(capsys, tmp_path, f"nfc:udp:localhost:{udp_port}?targets=106A")
    assert code == 0 and out["status"] == "approved"
    assert out["source"] == f"nfc:udp:localhost:{udp_port}?targets=106A"


def test_code_shown_to_the_camera_pays(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    frames = [synth.frame(1280, 720, None, seed=i) for i in range(5)]
    frames += [
        synth.frame(1280, 720, "cryptopos-test:card:decline", synth.CASES["rotated"], seed=i)
        for i in range(5)
    ]
    video = synth.write_video(tmp_path / "customer.avi", frames)
    code, out = pay(capsys, tmp_path, f"camera:file:{video}")
    assert code == 1 and out["status"] == "declined"  # the backend's test card says no: the code was read
    assert out["source"].startswith("camera:file:")

"""``cryptopos demo`` (what ``make demo`` shows) takes every scripted payment, not only the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "config" / "terminal.toml"


def test_the_demo_takes_all_its_payments(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # bounded: a broken backend shows up as a failed sale in seconds, not a minute's hang
    monkeypatch.setenv("CRYPTOPOS_TIMEOUTS__REQUEST_S", "3")
    monkeypatch.setenv("CRYPTOPOS_RETRY__MAX_ATTEMPTS", "2")
    assert main(["demo", "--config", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    results = [line.split()[0] for line in out.splitlines() if line[:1].isupper() and "EUR" in line]
    assert results == ["APPROVED", "APPROVED", "DECLINED", "APPROVED"], out

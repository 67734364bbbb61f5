"""``cryptopos`` with no command opens the TUI with the configured devices; ``tui --demo``
on the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import terminal.tui
from terminal.cli import main
from terminal.config import LoadedSettings


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[LoadedSettings, bool]]:
    calls: list[tuple[LoadedSettings, bool]] = []

    def fake_run(loaded: LoadedSettings, *, demo: bool = False) -> int:
        calls.append((loaded, demo))
        return 0

    monkeypatch.setattr(terminal.tui, "run_tui", fake_run)
    return calls


def test_no_command_opens_the_tui_with_the_configured_readers(
    opened: list[tuple[LoadedSettings, Any]], tmp_path: Path
) -> None:
    config = tmp_path / "t.toml"
    config.write_text('[terminal]\nreaders = ["sim:qr"]\n[backend]\nurl = "http://127.0.0.1:9"\n')
    assert main(["--config", str(config)]) == 0
    [(loaded, demo)] = opened
    assert demo is False
    assert loaded.settings.terminal.readers == ("sim:qr",)
    assert loaded.settings.backend.url == "http://127.0.0.1:9"


def test_tui_demo_runs_on_the_embedded_default(
    opened: list[tuple[LoadedSettings, Any]], tmp_path: Path
) -> None:
    config = tmp_path / "t.toml"
    config.write_text('[backend]\nurl = "http://127.0.0.1:9"\n')
    assert main(["tui", "--demo", "--config", str(config)]) == 0
    [(loaded, demo)] = opened
    assert demo is True
    assert loaded.settings.backend.url == "embedded"
    assert loaded.settings.terminal.readers == terminal.tui.DEMO_READERS
    assert loaded.source_of("backend.url") == "--demo"


def test_a_broken_config_is_a_clear_error_not_a_screen(
    opened: list[tuple[LoadedSettings, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "t.toml"
    config.write_text('[terminal]\nreaders = ["usb:nothing"]\n')
    assert main(["--config", str(config)]) == 2
    assert opened == []
    assert "unknown reader 'usb:nothing'" in capsys.readouterr().err

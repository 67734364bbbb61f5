"""Config: layers, sources, all problems at once, secrets never shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.config import ConfigError, effective_rows, load_settings

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_shipped_defaults_file_is_valid() -> None:
    loaded = load_settings(file=REPO / "config" / "terminal.toml", env={})
    assert loaded.settings.backend.url == "embedded"
    assert loaded.source_of("merchant.name").endswith("terminal.toml")


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    f = write(tmp_path, '[backend]\nurl = "http://file.example:1"\n[timeouts]\nrequest_s = 3\n')
    env = {"CRYPTOPOS_BACKEND__URL": "http://env.example:2", "CRYPTOPOS_TIMEOUTS__CONNECT_S": "1.5"}
    loaded = load_settings(file=f, env=env, overrides={"backend.url": ("http://flag.example:3", "--backend")})
    s = loaded.settings
    assert s.backend.url == "http://flag.example:3"
    assert loaded.source_of("backend.url") == "--backend"
    assert s.timeouts.connect_s == 1.5
    assert loaded.source_of("timeouts.connect_s") == "env CRYPTOPOS_TIMEOUTS__CONNECT_S"
    assert s.timeouts.request_s == 3.0
    assert loaded.source_of("timeouts.request_s") == str(f)
    assert loaded.source_of("journal.path") == "default"


def test_env_lists_accept_commas_or_json(tmp_path: Path) -> None:
    f = write(tmp_path, "")
    s = load_settings(file=f, env={"CRYPTOPOS_TERMINAL__ACCEPTED_ASSETS": "btc, sol"}).settings
    assert s.terminal.accepted_assets == ("BTC", "SOL")
    s = load_settings(file=f, env={"CRYPTOPOS_TERMINAL__READERS": '["sim:qr"]'}).settings
    assert s.terminal.readers == ("sim:qr",)


def test_all_problems_reported_together_with_file_and_key(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        """
[terminal]
fiat_currency = "XXX"
accepted_assets = ["BTC", "DOGE"]
readers = ["usb:nothing"]
colour = "blue"
[timeouts]
request_s = -1
[backend]
url = "ftp://nope"
[signing]
secret = "short"
[nonsense]
a = 1
""",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(file=f, env={"CRYPTOPOS_TIMEOUTS__CONNECT_S": "soon"})
    problems = {(p.source, p.key) for p in info.value.problems}
    src = str(f)
    assert {
        (src, "terminal.fiat_currency"),
        (src, "terminal.accepted_assets"),
        (src, "terminal.readers"),
        (src, "terminal.colour"),
        (src, "timeouts.request_s"),
        (src, "backend.url"),
        (src, "signing.secret"),
        (src, "nonsense.a"),
        ("env CRYPTOPOS_TIMEOUTS__CONNECT_S", "timeouts.connect_s"),
    } <= problems
    text = str(info.value)
    assert "short" not in text  # the secret's value is never echoed
    assert "known keys in [terminal]" in text


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(file=write(tmp_path, "[terminal\n"), env={})
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(file=tmp_path / "absent.toml", env={})


def test_effective_rows_mask_secrets(tmp_path: Path) -> None:
    f = write(tmp_path, '[signing]\nsecret = "a-very-secret-value-123"\n')
    rows = effective_rows(load_settings(file=f, env={}))
    shown = {k: v for k, v, _ in rows}
    assert shown["signing.secret"] == "********"
    assert "a-very-secret-value-123" not in repr(rows)


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "terminal", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "CRYPTOPOS_SIGNING__SECRET": "env-secret-value-0123456789"},
    )


def test_config_check_cli_reports_every_problem_exit_2_no_traceback(tmp_path: Path) -> None:
    f = write(tmp_path, '[terminal]\nfiat_currency = "XXX"\n[timeouts]\nrequest_s = "slow"\nbogus = 1\n')
    r = run_cli("config", "check", str(f))
    assert r.returncode == 2
    assert "3 problems" in r.stderr
    assert (
        "terminal.fiat_currency" in r.stderr
        and "timeouts.request_s" in r.stderr
        and "timeouts.bogus" in r.stderr
    )
    assert "Traceback" not in r.stderr + r.stdout


def test_config_show_json_sources_and_masking(tmp_path: Path) -> None:
    r = run_cli("config", "show", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["signing.secret"] == {"value": "********", "source": "env CRYPTOPOS_SIGNING__SECRET"}
    assert data["backend.url"]["source"].endswith("terminal.toml")
    assert "env-secret-value" not in r.stdout

"""The client's and the offline mode's settings: defaults, validation, wiring into the client."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.client.factory import client_from_settings
from terminal.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_offline_is_off_by_default_in_the_shipped_config() -> None:
    s = load_settings(file=REPO / "config" / "terminal.toml", env={}).settings
    assert s.offline.enabled is False
    assert (s.offline.max_payment["EUR"], s.offline.max_total["EUR"], s.offline.allowed_kinds) == (
        "50.00",
        "200.00",
        ("bolt_card",),
    )
    assert (s.offline.max_payment["JPY"], s.offline.max_payment["KWD"]) == ("7500", "15.000")
    assert s.retry.max_attempts == 4 and s.backend.api_version == "auto"


def test_bad_offline_and_retry_settings_are_all_reported(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(
        '[offline]\nmax_payment = { EUR = "lots" }\nmax_total = { EUR = "-5" }\nallowed_kinds = ["bolt_card", "cash"]\n'
        "[retry]\nmax_attempts = 0\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(file=f, env={})
    text = str(info.value)
    assert "offline.max_payment" in text and "EUR = 'lots'" in text
    assert "offline.max_total" in text and "EUR = '-5'" in text
    assert "unknown payload kind(s) cash" in text
    assert "retry.max_attempts" in text
    assert len(info.value.problems) == 4


async def test_settings_reach_the_client(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(
        '[backend]\nurl = "http://127.0.0.1:9"\napi_version = "v1"\n'
        "[timeouts]\nconnect_s = 1.5\nrequest_s = 7.0\nwrite_s = 3.0\n"
        "[retry]\nmax_attempts = 6\nbreaker_failures = 9\nbreaker_reset_s = 4.0\n"
    )
    s = load_settings(file=f, env={}).settings
    async with client_from_settings(s) as c:
        t = c._http.timeout
        assert (t.connect, t.read, t.write) == (1.5, 7.0, 3.0)
        assert c.policy.max_attempts == 6
        assert (c.breaker.failure_threshold, c.breaker.reset_s) == (9, 4.0)
        assert c.api_version == "v1"  # pinned: no discovery needed

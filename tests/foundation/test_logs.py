"""terminal.logs: one JSON object a line in a rotating file, request ids that cannot forge a
line, and what must never be logged masked even when a caller passes it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from terminal import logs

SECRET = "demo-secret-do-not-use-in-production"
SUN = "lnurlw://card.example.com/ln?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE"


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_records_are_json_lines_with_their_fields(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "t.log"
    with logs.configured(path, level="INFO"):
        log = logging.getLogger("cryptopos.test")
        log.info("backend request", extra={"request_id": "abcdef0123456789", "status": 201, "ms": 1.5})
        log.debug("not at INFO")
        logging.getLogger("httpx").info("a library's INFO stays out")
        try:
            raise ValueError(f"bad payload {SUN}")
        except ValueError:
            log.exception("parsing failed")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    first, second = lines(path)
    assert first["msg"] == "backend request" and first["logger"] == "cryptopos.test"
    assert (first["request_id"], first["status"], first["ms"], first["level"]) == (
        "abcdef0123456789",
        201,
        1.5,
        "INFO",
    )
    assert str(first["ts"]).endswith("Z")
    assert second["level"] == "ERROR" and second["error"] == "ValueError: bad payload lnurlw:[redacted]"
    assert "E19CCB1FED8892CE" not in path.read_text() and "test_logs.py" in str(second["traceback"])
    assert not any(isinstance(h, logs._OwnHandler) for h in logging.getLogger().handlers)  # released


def test_fields_named_like_secrets_and_secret_text_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    with logs.configured(path):
        logging.getLogger("backend_stub.x").warning(
            "tap %s",
            SUN,
            extra={
                "secret": SECRET,
                "pin": "4321",
                "k1": "00" * 16,
                "payload": SUN,
                "key_id": "t_1",
                "c": "x",
            },
        )
    [rec] = lines(path)
    text = path.read_text()
    for leaked in (SECRET, "4321", "00" * 16, "4E2E289D945A66BB13377A728884E867", "E19CCB1FED8892CE"):
        assert leaked not in text
    assert rec["secret"] == rec["pin"] == rec["payload"] == rec["c"] == "[redacted]"
    assert rec["key_id"] == "t_1"  # a key's id is not the key


def test_it_rotates(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    logs.configure(path, max_bytes=10_000, backups=2)
    try:
        for i in range(400):
            logging.getLogger("cryptopos.test").info("line %d of a long run", i)
    finally:
        logs.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.log", "t.log.1", "t.log.2"]
    assert all(p.stat().st_size <= 10_000 for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("value", "taken"),
    [
        ("0123456789abcdef01234567", True),
        (b"req-2026.03.14:abc_DEF", True),
        ("short", False),
        ("x" * 65, False),
        ('abc"}\n{"level":"ERROR"', False),  # would forge a line
        (b"\xff" * 10, False),
        (None, False),
    ],
)
def test_only_plain_request_ids_are_taken_from_outside(value: str | bytes | None, taken: bool) -> None:
    assert (logs.request_id_of(value) is not None) is taken
    assert logs.request_id_of(logs.new_request_id()) is not None

"""``cryptopos doctor`` against a backend whose discovery document is malformed: a FAIL line, no crash."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "config" / "terminal.toml"


@pytest.fixture
def discovery_server() -> Iterator[tuple[str, list[bytes]]]:
    answers: list[bytes] = [b"{}"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = answers[0]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    "discovery",
    [
        {"services": [1, 2]},
        {"services": {"rates": {"versions": 5}, "payments": {"versions": []}}},
        {"services": {"rates": {"versions": [5]}, "payments": {"versions": [None]}}},
        {"services": None},
    ],
)
def test_a_malformed_discovery_is_a_failed_check(
    discovery: object,
    discovery_server: tuple[str, list[bytes]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, answers = discovery_server
    answers[0] = json.dumps(discovery).encode()
    monkeypatch.setenv("CRYPTOPOS_RETRY__MAX_ATTEMPTS", "1")
    code = main(["doctor", "--config", str(CONFIG), "--backend", url, "--json"])
    out = capsys.readouterr()
    assert "unexpected error" not in out.err
    assert code == 1
    report = json.loads(out.out)
    assert report["backend"]["ok"] is False
    assert "not usable" in report["backend"]["detail"]


def test_doctor_honours_a_pinned_api_version(
    discovery_server: tuple[str, list[bytes]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """doctor builds its client from the settings: a till pinned to v2 is not 'Ready.' on a v1 backend."""
    url, answers = discovery_server
    v1 = {"versions": [{"version": "v1", "status": "stable"}]}
    answers[0] = json.dumps({"services": {"rates": v1, "payments": v1}}).encode()
    monkeypatch.setenv("CRYPTOPOS_RETRY__MAX_ATTEMPTS", "1")
    code = main(["doctor", "--config", str(CONFIG), "--backend", url, "--json"])
    assert json.loads(capsys.readouterr().out)["backend"]["ok"] is True
    monkeypatch.setenv("CRYPTOPOS_BACKEND__API_VERSION", "v2")
    code = main(["doctor", "--config", str(CONFIG), "--backend", url, "--json"])
    out = capsys.readouterr()
    assert code == 1
    report = json.loads(out.out)
    assert report["backend"]["ok"] is False
    assert "not usable" in report["backend"]["detail"]

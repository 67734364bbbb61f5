"""``cryptopos parse``: one JSON object out, exit 0 for a payload, 1 with an error object otherwise."""

from __future__ import annotations

import io
import json

import pytest

from terminal.cli import main
from terminal.domain.payloads.samples import BOLT11, CORPUS, TAP


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("kind", "text"), [(k, ts[0]) for k, ts in CORPUS.items()])
def test_json_for_every_kind(capsys: pytest.CaptureFixture[str], kind: str, text: str) -> None:
    code, out, _ = run(capsys, text, "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["kind"] == kind
    assert {"network", "asset", "amount", "amount_minor"} <= set(obj)
    assert out.count("\n") == 1  # one object, one line


def test_expired_invoice_is_reported_not_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, BOLT11, "--json")
    obj = json.loads(out)
    assert code == 0 and obj["expired"] is True and obj["expires_at"] == 1496314658 + 60
    assert (obj["asset"], obj["amount"], obj["amount_minor"]) == ("BTC-LN", "0.0025", "250000000")


def test_invalid_payload_exit_1_with_error_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bitcoin:175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W", "--json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "bad_checksum"
    code, out, err = run(capsys, "hello world")
    assert code == 1 and out == "" and "unrecognised" in err


def test_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(TAP + "\n"))
    code, out, _ = run(capsys, "-", "--json")
    assert code == 0 and json.loads(out)["kind"] == "boltcard"


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=0.001&label=Caf%C3%A9")
    assert code == 0
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["kind"] == "bitcoin" and lines["amount"] == "0.001" and lines["label"] == "Café"


def test_payload_money() -> None:
    from terminal.domain.money import asset
    from terminal.domain.payloads import parse_payload, payload_money

    m = payload_money(parse_payload(BOLT11))
    assert m is not None and (m.minor, m.asset) == (250_000_000, asset("BTC-LN"))
    m = payload_money(parse_payload(CORPUS["ethereum"][1]))
    assert m is not None and (m.minor, m.asset.code) == (12_500_000, "USDC")
    assert payload_money(parse_payload(TAP)) is None

"""Logs of a real day's work: `backend up` (a gateway and instances as processes), a Bolt Card
sale, a card sale and its refund by `cryptopos pay` and `refund`. Every request's id is in the
terminal's, the gateway's and an instance's log and in the answer; no log holds the signing
secret, a card key, a payload, a Bolt Card's p or c, a manager's PIN, or the ledger's master
key."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from drivers.boltcard import BoltCard
from drivers.sim import DEMO_BOLTCARD
from terminal import logs
from terminal.cli import main
from terminal.client.factory import client_from_settings
from terminal.config import load_settings
from terminal.tui.demo import issue_card
from tests.platform.test_processes import TOPOLOGY, signed

REFUND_TO = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
TEST_CARD = "cryptopos-test:card:approve"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def backend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[str, Path]]:
    (tmp_path / "backend.toml").write_text(TOPOLOGY)
    run_dir = tmp_path / "run"
    base = ["backend", "--run-dir", str(run_dir)]
    code, out, err = run(capsys, *base, "up", "--topology", str(tmp_path / "backend.toml"), "--json")
    try:
        assert code == 0, out + err
        yield json.loads(out)["gateway"], run_dir
    finally:
        main([*base, "down"])
        capsys.readouterr()


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_a_sale_and_a_refund_log_their_request_ids_and_no_secret(
    backend: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway, run_dir = backend
    terminal_log = tmp_path / "till" / "terminal.log"
    journal = tmp_path / "till" / "journal.sqlite3"
    monkeypatch.setenv("CRYPTOPOS_BACKEND__URL", gateway)
    monkeypatch.setenv("CRYPTOPOS_LOGGING__PATH", str(terminal_log))
    settings = load_settings(file=Path("config/terminal.toml")).settings
    secret = settings.signing.secret.get_secret_value()

    # the card is issued the way the demo issues it (its keys travel in that request's body)
    card = BoltCard(
        uid=bytes.fromhex(DEMO_BOLTCARD["uid"]),
        k1=bytes.fromhex(DEMO_BOLTCARD["k1"]),
        k2=bytes.fromhex(DEMO_BOLTCARD["k2"]),
        base=DEMO_BOLTCARD["base"],
    )

    async def issue() -> None:
        async with client_from_settings(settings) as client:
            await issue_card(client, card)

    with logs.configured(terminal_log):  # as the till does (TUI demo): its log, its request ids
        asyncio.run(issue())
    tap = card.tap()
    sun = parse_qs(urlsplit(tap).query)
    p, c = sun["p"][0], sun["c"][0]

    code, out, err = run(
        capsys, "pay", "--amount", "4.50", "--asset", "BTC-LN", "--reader", f"sim:nfc?payload={quote(tap, safe='')}&delay=0",
        "--journal", str(journal), "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["status"] == "approved", out + err
    code, out, err = run(
        capsys, "pay", "--amount", "4.00", "--asset", "BTC", "--reader", f"sim:nfc?payload={TEST_CARD}&delay=0",
        "--journal", str(journal), "--json",
    )  # fmt: skip
    sale = json.loads(out)
    assert code == 0 and sale["status"] == "approved", out + err
    # a manager in the backend's roster approves the refund (the topology asks approval above
    # 1.00 EUR and allows 5.00 EUR a day) with a PIN from a 0600 file
    pin = "86420531"
    pin_file = tmp_path / "manager.pin"
    pin_file.write_text(pin + "\n")
    pin_file.chmod(0o600)
    staff = ["backend", "--run-dir", str(run_dir), "staff"]
    code, out, err = run(capsys, *staff, "add", "Max Manager", "--id", "s_max", "--pin-file", str(pin_file))
    assert code == 0, out + err
    code, out, err = run(
        capsys, "refund", sale["payment_id"], "--to", REFUND_TO, "--journal", str(journal),
        "--approver", "s_max", "--approve-with", str(pin_file), "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["status"] == "completed", out + err

    # the id of every request the till sent is in the gateway's log and in an instance's
    till = [r for r in records(terminal_log) if r["msg"] == "backend request"]
    assert len(till) >= 6 and all(r["status"] < 500 for r in till)
    paths = {r["path"] for r in till}
    assert {"/payments/v2/test/cards", "/rates/v2/quotes", "/payments/v2/payments"} <= paths, paths
    assert any(p.endswith("/refunds") for p in paths), paths
    logs_dir = run_dir / "logs"
    edge = {r["request_id"]: r for r in records(logs_dir / "gateway.jsonl") if r["msg"] == "request"}
    served = {
        r["request_id"]: r
        for f in logs_dir.glob("*.jsonl")
        if f.name != "gateway.jsonl"
        for r in records(f)
        if r["msg"] == "request"
    }
    for r in till:
        assert r["request_id"] in edge, r
        assert edge[r["request_id"]]["status"] == r["status"] and edge[r["request_id"]]["path"] == r["path"]
        assert edge[r["request_id"]]["instance"] == r["instance"]  # the one that answered
        if r["instance"] is not None:  # not one the gateway answers itself (/discovery)
            assert served[r["request_id"]]["status"] == r["status"], r
    assert sum(r["instance"] is not None for r in till) >= 6

    # and it comes back in the answer: the caller's own, or one the gateway made
    path = "/payments/v1/payments/none"
    answer = httpx.get(
        gateway + path, headers={**signed(path), "X-Request-Id": "probe-0123456789"}, timeout=30
    )
    assert answer.headers["x-request-id"] == "probe-0123456789"
    refused = httpx.get(gateway + path, headers={"X-Request-Id": 'x"} {"forged": 1'}, timeout=10)
    assert refused.status_code == 401 and re.fullmatch(r"[0-9a-f]{24}", refused.headers["x-request-id"])

    # nothing that must stay secret, in any log of the till or the backend (plain or rotated)
    master = (run_dir / "master.key").read_bytes() if (run_dir / "master.key").exists() else b""
    never = {
        "signing secret": secret,
        "signing secret (hex)": secret.encode().hex(),
        "card k1": DEMO_BOLTCARD["k1"],
        "card k2": DEMO_BOLTCARD["k2"],
        "Bolt Card URL": tap,
        "Bolt Card p": p,
        "Bolt Card c": c,
        "test card payload": TEST_CARD,
        "manager's PIN": pin,
    }
    if master:
        never["master key"] = master.strip().decode("latin-1")
    files = [terminal_log, *terminal_log.parent.glob("terminal.log.*"), *logs_dir.iterdir()]
    assert len(files) >= 5  # the till's, the gateway's, each instance's JSON and its stdout/stderr
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        for what, value in never.items():
            assert value.lower() not in text.lower(), f"{what} in {f.name}"

"""One payment end to end: quote -> tap -> submit -> result, in-process and over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.client import BackendClient
from terminal.domain.money import Money, asset
from terminal.journal import Journal
from terminal.sale import SaleRunner
from tests.support import serve

REPO = Path(__file__).resolve().parents[2]
KEY_ID, SECRET = "t_test", b"test-secret-0123456789"


async def pay(tmp_path: Path, transport: httpx.AsyncBaseTransport | None, base_url: str, reader: str):  # type: ignore[no-untyped-def]
    journal = Journal(tmp_path / "journal.sqlite3")
    async with BackendClient(base_url=base_url, key_id=KEY_ID, secret=SECRET, transport=transport) as client:
        runner = SaleRunner(
            client=client, journal=journal, terminal_id="t_test", readers=[reader], payment_wait_s=5
        )
        report = await runner.run(Money.parse("12.50", "EUR"), asset("BTC"))
    return report, journal


def backend(tmp_path: Path, keys: dict[str, bytes]) -> tuple[Store, Any]:
    store = Store(tmp_path / "ledger.sqlite3")
    return store, create_app(store=store, settings=ServiceSettings(keys=keys))


def charges(store: Store, reference: str) -> list[Any]:
    return store.fetch_all("SELECT * FROM payments WHERE reference = ?", (reference,))


async def test_pay_through_the_in_process_backend(tmp_path: Path) -> None:
    store, app = backend(tmp_path, {KEY_ID: SECRET})
    transport = httpx.ASGITransport(app=app)
    report, journal = await pay(tmp_path, transport, "http://backend.test", "sim:nfc")
    assert report.status == "approved"
    assert report.crypto is not None and report.crypto.asset.code == "BTC" and report.crypto.minor > 0
    # the backend charged exactly this, once, under the sale's reference
    charged = charges(store, report.reference)
    assert len(charged) == 1 and int(charged[0]["amount_minor"]) == report.crypto.minor
    assert charged[0]["payment_id"] == report.payment_id
    # the journal recorded the sale before the network and every step after it
    assert journal.events(report.reference) == [
        "amount_entered",
        "awaiting_payment",
        "submitting",
        "approved",
    ]
    rec = journal.get(report.reference)
    assert rec is not None and rec.idempotency_key == report.idempotency_key
    assert rec.payload_hash is not None and "cryptopos-test" not in repr(rec)  # no raw payload stored


async def test_declined_card(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=backend(tmp_path, {KEY_ID: SECRET})[1])
    report, journal = await pay(
        tmp_path, transport, "http://backend.test", "sim:nfc?payload=cryptopos-test:card:decline"
    )
    assert (report.status, report.reason) == ("declined", "card_declined")
    assert journal.events(report.reference)[-1] == "declined"


async def test_wrong_key_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=backend(tmp_path, {KEY_ID: b"another-secret-9876543210"})[1])
    report, _ = await pay(tmp_path, transport, "http://backend.test", "sim:nfc")
    assert report.status == "cancelled"
    assert report.reason is not None and "Signature does not match" in report.reason


def run_pay(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "CRYPTOPOS_SIGNING__KEY_ID": KEY_ID,
        "CRYPTOPOS_SIGNING__SECRET": SECRET.decode(),
        "CRYPTOPOS_JOURNAL__PATH": str(tmp_path / "j.sqlite3"),
    }
    return subprocess.run(
        [sys.executable, "-m", "terminal", "pay", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )


def test_pay_cli_over_a_real_uvicorn_server(tmp_path: Path) -> None:
    store, app = backend(tmp_path, {KEY_ID: SECRET})
    with serve(app) as url:
        r = run_pay(
            "--amount",
            "12.50",
            "--currency",
            "EUR",
            "--asset",
            "BTC",
            "--reader",
            "sim:nfc",
            "--backend",
            url,
            "--json",
            tmp_path=tmp_path,
        )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "approved"
    assert out["fiat"] == {"amount": "12.50", "minor": 1250, "currency": "EUR"}
    (paid,) = charges(store, out["reference"])
    assert paid["payment_id"] == out["payment_id"]
    assert out["crypto"]["minor"] == paid["amount_minor"]
    assert out["quote_id"] == paid["quote_id"] and out["idempotency_key"]
    assert set(out["timings_ms"]) >= {"quote", "submit", "total"}


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--amount", "12.505"], 2, "at most 2 decimals"),
        (["--amount", "-3"], 2, "negative"),
        (["--amount", "5", "--asset", "DOGE"], 2, "unknown asset"),
        (["--amount", "5", "--reader", "usb:x"], 2, "known device strings"),
        (["--amount", "5", "--reader", "sim:nfc?payload=cryptopos-test:card:decline"], 1, "DECLINED"),
    ],
)
def test_pay_cli_exit_codes(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    r = run_pay(*args, tmp_path=tmp_path)
    assert r.returncode == code, r.stderr
    assert text in r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_unreachable_backend_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    r = run_pay("--amount", "5", "--backend", "http://127.0.0.1:9", "--json", tmp_path=tmp_path)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["status"] == "cancelled" and "Backend unreachable" in out["reason"]
    assert "Traceback" not in r.stderr


def test_an_unknown_asset_lists_the_assets_a_sale_can_be_paid_in() -> None:
    from terminal.cli.common import CliError
    from terminal.cli.pay import parse_sale
    from terminal.config import load_settings

    settings = load_settings(file=None, env={}).settings
    with pytest.raises(CliError) as caught:
        parse_sale(settings, "5", "DOGE")
    message = str(caught.value)
    head, _, listed = message.partition("; accepted here: ")
    assert head == "unknown asset 'DOGE'"
    assert listed.split(", ") == list(settings.terminal.accepted_assets)  # no fiat code among them

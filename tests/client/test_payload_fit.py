"""A payload whose asset or network does not match the sale is refused by the sale core before the
backend is asked, on every face: the headless runner (a QR or an NFC tag), offline, and the till.
The customer's own receive address is the case that matters most: charging it would pay nobody."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from terminal.domain.money import Money, asset
from terminal.domain.payloads import sign_token
from terminal.journal import Journal, payload_hash
from terminal.presentation import sale_refusal
from tests.client.helpers import Backend, Sleeps, make_client

REPO = Path(__file__).resolve().parents[2]
RECEIVE_BTC = "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=1"
CARD = "lnurlw://card.example/ln?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE"


def token(asset_code: str) -> str:
    return sign_token(
        private_key=bytes(range(32)),
        key_id="w1",
        wallet_id="wallet-7",
        asset=asset_code,
        nonce=os.urandom(16),
        expires_at=int(time.time() + 300),
    )


@pytest.mark.parametrize(
    ("payload", "sale", "words"),
    [
        (RECEIVE_BTC, "ETH", "bitcoin code, which asks to receive money"),
        (RECEIVE_BTC, "BTC", "asks to receive money"),
        ("0x52908400098527886E0F7030069857D2E4169EE7", "ETH", "asks to receive money"),
        (CARD, "BTC", "pays over Lightning; this sale is in BTC: choose BTC-LN"),
        (CARD, "ETH", "pays over Lightning"),
        ("lnurlw://wallet.example/withdraw?k1=00", "SOL", "pays over Lightning"),
        ("WALLET-ETH", "BTC", "the wallet's token is for ETH; this sale is in BTC"),
    ],
)
def test_what_does_not_fit_the_sale_is_named(payload: str, sale: str, words: str) -> None:
    text = token("ETH") if payload == "WALLET-ETH" else payload
    refusal = sale_refusal(text, asset(sale), now=time.time())
    assert refusal is not None and words in refusal.message


@pytest.mark.parametrize(
    ("payload", "sale"),
    [
        (CARD, "BTC-LN"),
        ("WALLET-BTC", "BTC"),
        ("cryptopos-test:card:approve", "ETH"),
        ("cryptopos-test:wallet:approve", "SOL"),
        ("an opaque card token", "BTC"),  # what the terminal cannot read, the backend judges
    ],
)
def test_what_fits_the_sale_passes(payload: str, sale: str) -> None:
    text = token("BTC") if payload == "WALLET-BTC" else payload
    assert sale_refusal(text, asset(sale), now=time.time()) is None


async def _sale(tmp_path: Path, device: str, crypto: str) -> tuple[Backend, Journal, object]:
    from terminal.sale import SaleRunner

    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    async with make_client(backend.transport(), Sleeps()) as c:
        runner = SaleRunner(client=c, journal=journal, terminal_id="t", readers=[device], payment_wait_s=10)
        report = await runner.run(Money(450, asset("EUR")), asset(crypto))
    return backend, journal, report


@pytest.mark.parametrize(
    "device",
    [
        "sim:qr?payload=bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq%3Famount%3D1",
        # the same address on an NFC tag (NDEF URI record, read through the Type 4 protocol code)
        "sim:nfc?card=tag&payload=bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq%3Famount%3D1",
    ],
)
async def test_a_receive_address_for_an_eth_sale_never_reaches_the_backend(
    tmp_path: Path, device: str
) -> None:
    backend, journal, report = await _sale(tmp_path, device, "ETH")
    assert report.status == "declined"  # type: ignore[attr-defined]
    assert "asks to receive money" in (report.reason or "")  # type: ignore[attr-defined]
    assert backend.payments() == []
    rec = journal.get(report.reference)  # type: ignore[attr-defined]
    assert rec is not None and rec.state == "declined" and rec.reason == "not_a_payment"
    assert rec.payload_hash == payload_hash(RECEIVE_BTC)


async def test_a_bolt_card_on_an_on_chain_sale_never_reaches_the_backend(tmp_path: Path) -> None:
    backend, journal, report = await _sale(tmp_path, f"sim:nfc?payload={CARD.replace('&', '%26')}", "BTC")
    assert (report.status, journal.get(report.reference).reason) == ("declined", "asset_mismatch")  # type: ignore[attr-defined, union-attr]
    assert backend.payments() == []


def test_pay_headless_exits_1_for_a_receive_address(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOPOS_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "terminal",
            "pay",
            "--amount",
            "4.50",
            "--currency",
            "EUR",
            "--asset",
            "ETH",
            "--reader",
            "sim:qr?payload=bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq%3Famount%3D1",
            "--journal",
            str(tmp_path / "journal.sqlite3"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("DECLINED") and "asks to receive money" in done.stdout

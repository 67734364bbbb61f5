"""history, report, reconcile and refund, run through the real command line entry (in-process)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.cli import main
from terminal.cli.common import CliError
from terminal.cli.refund import plan_refund, send_refund
from terminal.journal import Journal
from tests.client.helpers import Sleeps, make_client
from tests.client.test_client_v2 import FakeV2
from tests.support import serve

GOOD_BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


DEMO_KEY_ID, DEMO_SECRET = "t_demo_01", b"demo-secret-do-not-use-in-production"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real backend (uvicorn on loopback, SQLite ledger) for the commands of this module, which
    sign with the shipped demo key: a ledger that outlives each command, as a real one does."""
    store = Store(tmp_path_factory.mktemp("ledger") / "ledger.sqlite3")
    app = create_app(store=store, settings=ServiceSettings(keys={DEMO_KEY_ID: DEMO_SECRET}))
    with serve(app) as url:
        yield url
    store.close()


@pytest.fixture(autouse=True)
def _backend(server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOPOS_BACKEND__URL", server_url)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def journal_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "j.sqlite3"
    for amount, payload in (("12.50", "approve"), ("3.00", "decline"), ("7.25", "approve")):
        code, _, err = run(
            capsys,
            "pay",
            "--amount",
            amount,
            "--journal",
            str(path),
            "--json",
            "--reader",
            f"sim:nfc?payload=cryptopos-test:card:{payload}&delay=0",
        )
        assert code in (0, 1), err
    return path


def test_history_filters_and_json(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "history", "--journal", str(journal_path), "--json")
    rows = json.loads(out)
    assert code == 0 and [r["status"] for r in rows] == ["approved", "declined", "approved"]
    assert [r["fiat"]["amount"] for r in rows] == ["12.50", "3.00", "7.25"]
    code, out, _ = run(capsys, "history", "--journal", str(journal_path), "--json", "--status", "declined")
    assert [r["fiat"]["amount"] for r in json.loads(out)] == ["3.00"]
    code, out, _ = run(capsys, "history", "--journal", str(journal_path), "--since", "2999-01-01")
    assert out.strip() == "no sales"
    code, out, _ = run(capsys, "history", "--journal", str(journal_path), "--since", "1h")
    assert out.count("EUR") == 3 and "card_declined" in out


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--status", "paid"], "unknown status paid; known:"),
        (["--since", "yesterday"], "is not a date"),
        (["--limit", "0"], "at least 1"),
    ],
)
def test_history_bad_arguments(
    journal_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], text: str
) -> None:
    code, _, err = run(capsys, "history", "--journal", str(journal_path), *args)
    assert code == 2 and text in err


def test_pay_journals_the_rate_and_receipt_prints_it(
    journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j = Journal(journal_path)
    try:
        first = j.sales(states=("approved",))[0]
    finally:
        j.close()
    assert first.rate is not None and first.tip_minor == 0  # `pay` takes no tip: a known zero
    code, out, err = run(capsys, "receipt", first.payment_id or "", "--journal", str(journal_path), "--text")
    assert (code, err) == (0, "")
    rate_line = next(line for line in out.splitlines() if line.startswith("Rate"))
    assert rate_line.endswith(f"{first.rate} EUR/BTC") and "incl. tip" not in out


def test_history_without_a_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "history", "--journal", str(tmp_path / "none.sqlite3"))
    assert code == 2 and "no journal" in err


def test_z_report(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j = Journal(journal_path)
    j.open_sale(reference="off-1", idempotency_key="k-off", fiat_minor=900, fiat_currency="EUR", asset="BTC")
    j.queue_offline("off-1", payload="cryptopos-test:card:approve", payload_kind="test_card")
    approved = j.sales(states=("approved",))[0]
    j.open_refund(
        idempotency_key="rk",
        payment_id=approved.payment_id or "",
        reference=approved.reference,
        amount_minor=100,
        asset="BTC",
        to=GOOD_BTC,
    )
    j.update_refund("rk", "pending", refund_id="rf_1")
    j.close()
    code, out, _ = run(capsys, "report", "--journal", str(journal_path), "--json")
    rep = json.loads(out)
    assert code == 0
    assert rep["sales"]["approved"]["count"] == 2 and rep["sales"]["approved"]["fiat"] == {"EUR": "19.75"}
    assert rep["sales"]["declined"]["count"] == 1 and rep["sales"]["declined"]["fiat"] == {"EUR": "3.00"}
    assert rep["sales"]["offline_queued"]["count"] == 1
    assert rep["sales"]["offline_queued"]["crypto"]["BTC"]["amount"] is None  # no quote yet, not "0"
    assert rep["refunds"] == {"pending/BTC": {"count": 1, "amount": "0.00000100"}}
    assert rep["offline_queue"] == {"count": 1, "fiat": {"EUR": "9.00"}}
    code, out, _ = run(capsys, "report", "--journal", str(journal_path), "--day", "2001-01-01", "--json")
    assert json.loads(out)["sales"] == {}
    code, _, err = run(capsys, "report", "--journal", str(journal_path), "--day", "01/02/2026")
    assert code == 2 and "YYYY-MM-DD" in err


def test_reconcile_settles_an_old_unknown_sale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.sqlite3"
    old = Journal(path, clock=lambda: time.time() - 600)
    old.open_sale(reference="r-old", idempotency_key="k", fiat_minor=500, fiat_currency="EUR", asset="BTC")
    old.update("r-old", "unknown_outcome", submitted_at=time.time() - 600)  # older than any retry window
    old.open_sale(reference="r-tap", idempotency_key="k2", fiat_minor=500, fiat_currency="EUR", asset="BTC")
    old.update("r-tap", "awaiting_payment")
    old.close()
    code, out, _ = run(capsys, "reconcile", "--journal", str(path), "--json")
    assert code == 0
    assert json.loads(out)["settled"] == {"r-old": "failed", "r-tap": "cancelled"}
    code, out, _ = run(capsys, "reconcile", "--journal", str(path))
    assert code == 0 and "nothing to reconcile" in out


def test_reconcile_leaves_a_fresh_send_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.open_sale(reference="r-new", idempotency_key="k", fiat_minor=500, fiat_currency="EUR", asset="BTC")
    j.update("r-new", "submitting", submitted_at=time.time())
    j.close()
    code, out, _ = run(capsys, "reconcile", "--journal", str(path))
    assert code == 3 and "still open r-new" in out


@pytest.mark.parametrize(
    ("to", "amount", "text"),
    [
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdz", None, "wrong checksum"),
        ("ethereum:0x52908400098527886E0F7030069857D2E4169EE7", None, "cannot receive a BTC refund"),
        ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", None, "test network"),
        ("0x52908400098527886E0F7030069857D2E4169EE7", None, "not a base58 character"),
        (GOOD_BTC, "5", "left to refund"),
        (GOOD_BTC, "0.000000001", "at most 8 decimals"),
    ],
)
def test_refund_validation(
    journal_path: Path, capsys: pytest.CaptureFixture[str], to: str, amount: str | None, text: str
) -> None:
    j = Journal(journal_path)
    pid = j.sales(states=("approved",))[0].payment_id
    j.close()
    extra = ["--amount", amount] if amount else []
    code, _, err = run(capsys, "refund", pid or "", "--journal", str(journal_path), "--to", to, *extra)
    assert code == 2 and text in err


def test_refund_of_an_unknown_or_declined_payment(
    journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "refund", "pay_nope", "--journal", str(journal_path), "--to", GOOD_BTC)
    assert code == 2 and "not in this terminal's journal" in err


def test_refund_on_a_v1_backend_says_v2_is_needed(
    journal_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTOPOS_BACKEND__API_VERSION", "v1")
    j = Journal(journal_path)
    pid = j.sales(states=("approved",))[0].payment_id
    j.close()
    code, out, _ = run(
        capsys, "refund", pid or "", "--journal", str(journal_path), "--to", f"bitcoin:{GOOD_BTC}?amount=1"
    )
    assert code == 2 and "need API v2" in out, out


def test_refund_through_the_real_v2_backend(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j = Journal(journal_path)
    sale = j.sales(states=("approved",))[0]
    j.close()
    assert sale.crypto_minor is not None
    code, out, _ = run(
        capsys,
        "refund",
        sale.payment_id or "",
        "--journal",
        str(journal_path),
        "--to",
        GOOD_BTC,
        "--amount",
        "0.00000100",
        "--json",
    )
    result = json.loads(out)
    assert code == 0 and result["status"] == "completed" and result["refund_id"]
    assert result["amount_minor"] == "100" and result["to"] == GOOD_BTC
    # the rest, then nothing is left
    code, out, _ = run(
        capsys, "refund", sale.payment_id or "", "--journal", str(journal_path), "--to", GOOD_BTC, "--json"
    )
    assert code == 0 and json.loads(out)["amount_minor"] == str(sale.crypto_minor - 100)
    code, _, err = run(
        capsys, "refund", sale.payment_id or "", "--journal", str(journal_path), "--to", GOOD_BTC
    )
    assert code == 2 and "nothing left to refund" in err


async def test_refund_on_v2_is_journaled_and_the_same_refund_keeps_its_key(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.open_sale(reference="r", idempotency_key="k", fiat_minor=1250, fiat_currency="EUR", asset="BTC")
    j.update("r", "approved", payment_id="pay_1", crypto_minor=14_000)
    first = plan_refund(j, "pay_1", "0.00004", GOOD_BTC)
    j.update_refund(first.idempotency_key, "unknown_outcome")  # e.g. the answer was lost
    again = plan_refund(j, "pay_1", "0.00004", GOOD_BTC)
    assert again.idempotency_key == first.idempotency_key
    fake = FakeV2()
    async with make_client(httpx.MockTransport(fake), Sleeps(), api_version="v2") as c:
        code, out = await send_refund(c, j, again)
    assert code == 0 and out["status"] == "pending" and out["refund_id"] == "rf_1"
    sent = [r for r in fake.requests if r.url.path.endswith("/refunds")]
    assert [r.headers["Idempotency-Key"] for r in sent] == [first.idempotency_key]
    assert json.loads(sent[0].content) == {"amount_minor": "4000", "to": GOOD_BTC}
    assert j.refund(first.idempotency_key).state == "pending"  # type: ignore[union-attr]
    with pytest.raises(CliError, match="left to refund"):
        plan_refund(j, "pay_1", "0.00010001", GOOD_BTC)  # 4000 of 14000 refunded: 10000 left
    nxt = plan_refund(j, "pay_1", "0.0001", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
    assert nxt.idempotency_key != first.idempotency_key


def test_doctor_shows_the_deprecations_the_client_met(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.record_notice(
        api="payments/v1",
        deprecation="@1790812800",
        sunset="Wed, 30 Jun 2027 00:00:00 GMT",
        link='</payments/v2>; rel="successor-version"',
    )
    j.close()
    monkeypatch.setenv("CRYPTOPOS_JOURNAL__PATH", str(path))
    code, out, _ = run(capsys, "doctor", "--reader", "sim:nfc")
    assert code == 0
    assert "deprecated: payments/v1 (sunset Wed, 30 Jun 2027 00:00:00 GMT" in out


async def test_reconcile_settles_a_refund_whose_answer_was_lost(tmp_path: Path) -> None:
    from terminal.settlement import reconcile

    j = Journal(tmp_path / "j.sqlite3")
    j.open_sale(reference="r", idempotency_key="k", fiat_minor=1250, fiat_currency="EUR", asset="BTC")
    j.update("r", "approved", payment_id="pay_1", crypto_minor=14_000)
    planned = plan_refund(j, "pay_1", "0.00002", GOOD_BTC)
    j.update_refund(planned.idempotency_key, "unknown_outcome", detail="no answer")
    fake = FakeV2()
    async with make_client(httpx.MockTransport(fake), Sleeps(), api_version="v2") as c:
        result = await reconcile(client=c, journal=j)
        again = await reconcile(client=c, journal=j)
    assert result.settled == {f"refund:{planned.idempotency_key}": "pending"} and result.clean
    assert again.settled == {}
    sent = [r for r in fake.requests if r.url.path.endswith("/refunds")]
    assert [r.headers["Idempotency-Key"] for r in sent] == [planned.idempotency_key]
    assert j.refund(planned.idempotency_key).refund_id == "rf_1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        (
            "ethereum:0x52908400098527886E0F7030069857D2E4169EE7",
            "ETH",
            "0x52908400098527886E0F7030069857D2E4169EE7",
        ),
        ("0x52908400098527886e0f7030069857d2e4169ee7", "ETH", "0x52908400098527886E0F7030069857D2E4169EE7"),
        ("bitcoin:BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ?amount=0.1", "BTC", GOOD_BTC),
        ("alice@example.com", "BTC-LN", "alice@example.com"),
    ],
)
def test_refund_destinations_that_are_taken(text: str, code: str, expected: str) -> None:
    from terminal.addresses import refund_destination
    from terminal.domain.money import asset

    assert refund_destination(text, asset(code)) == expected


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("0x52908400098527886E0F7030069857D2E4169Ee7", "ETH", "EIP-55"),
        ("ethereum:0x52908400098527886E0F7030069857D2E4169EE7@5", "ETH", "chain 5"),
        ("bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "SOL", "cannot receive a SOL refund"),
        ("", "BTC", "no refund address"),
    ],
)
def test_refund_destinations_that_are_refused(text: str, code: str, message: str) -> None:
    from terminal.addresses import AddressError, refund_destination
    from terminal.domain.money import asset

    with pytest.raises(AddressError, match=message):
        refund_destination(text, asset(code))

"""``cryptopos receipt PAYMENT_ID`` and ``cryptopos report --print``: from the journal to a
printer on loopback (or a file), decoded back; printer faults are exit 1 with the next step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.journal import Journal
from tests.printer.fake_printer import FakePrinter
from tests.printer.helpers import decode_qr, read_back

MakePrinter = Callable[..., FakePrinter]
PAID = "pay_7d1e0c2b9a8f6e5d4c3b"


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    j = Journal(path, clock=lambda: 1_795_000_000.0)
    j.open_sale(
        reference="t1-approved",
        idempotency_key="k1",
        fiat_minor=1375,
        fiat_currency="EUR",
        asset="ETH",
        tip_minor=125,
    )
    j.update(
        "t1-approved", "awaiting_payment", crypto_minor=4_210_000_000_000_000, quote_id="q_1", rate="3266.03"
    )
    j.update("t1-approved", "submitting")
    j.update("t1-approved", "approved", payment_id=PAID)
    j.open_sale(
        reference="t1-declined", idempotency_key="k2", fiat_minor=300, fiat_currency="EUR", asset="BTC"
    )
    j.update("t1-declined", "declined", reason="card_declined")
    j.open_sale(reference="t1-open", idempotency_key="k3", fiat_minor=900, fiat_currency="EUR", asset="BTC")
    j.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_receipt_prints_the_journaled_sale_on_a_network_printer(
    journal: Path, fake_printer: MakePrinter, capsys: pytest.CaptureFixture[str]
) -> None:
    fp = fake_printer()
    code, out, err = run(capsys, "receipt", PAID, "--journal", str(journal), "--printer", fp.device)
    assert (code, err) == (0, "")
    assert out == f"printed the receipt of {PAID} on {fp.device}\n"
    printed = read_back(fp.wait_jobs(1)[0])
    text = printed.lines
    assert "Demo Café" in text
    assert any(t.startswith("Sale") and t.endswith("12.50 EUR") for t in text)
    assert any(t.startswith("Tip") and t.endswith("1.25 EUR") for t in text)
    assert any(t.startswith("TOTAL") and t.endswith("13.75 EUR") for t in text)
    assert any(t.startswith("Paid") and t.endswith("0.00421 ETH") for t in text)
    assert any(t.startswith("Rate") and t.endswith("3266.03 EUR/ETH") for t in text)
    assert any(t.endswith(PAID) for t in text)
    assert printed.qr_codes == [f"cryptopos:receipt?payment={PAID}&reference=t1-approved"]
    assert len(printed.cuts) == 1


def test_a_declined_sale_has_a_receipt_by_its_reference_in_raster_form(
    journal: Path,
    fake_printer: MakePrinter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRYPTOPOS_PRINTER__QR", "raster")
    fp = fake_printer()
    monkeypatch.setenv("CRYPTOPOS_PRINTER__DEVICE", fp.device)  # the configured printer
    code, _, _ = run(capsys, "receipt", "t1-declined", "--journal", str(journal))
    assert code == 0
    printed = read_back(fp.wait_jobs(1)[0])
    assert "DECLINED" in [t.strip() for t in printed.lines]
    assert decode_qr(printed.rasters[0]) == ["cryptopos:receipt?payment=&reference=t1-declined"]


def test_receipt_into_a_file(journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "receipt.bin"
    code, _, _ = run(capsys, "receipt", PAID, "--journal", str(journal), "--printer", f"printer:file:{path}")
    assert code == 0 and read_back(path.read_bytes()).qr_codes


def test_without_a_printer_the_receipt_is_shown_and_the_setting_named(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "receipt", PAID, "--journal", str(journal)
    )  # [printer] device = printer:none
    assert code == 0
    assert "13.75 EUR" in out and "incl. tip" in out and "3266.03 EUR/ETH" in out and PAID in out
    assert "no receipt printer configured" in err and "--printer" in err
    code, out, err = run(capsys, "receipt", PAID, "--journal", str(journal), "--text")
    assert code == 0 and "13.75 EUR" in out and err == ""


def test_printer_faults_are_exit_1_with_the_next_step(
    journal: Path, fake_printer: MakePrinter, capsys: pytest.CaptureFixture[str]
) -> None:
    fp = fake_printer({1: 0x1A, 2: 0x32, 4: 0x72})
    code, out, err = run(capsys, "receipt", PAID, "--journal", str(journal), "--printer", fp.device)
    assert code == 1 and out == ""
    assert "Printer paper out" in err and "→ put in a new paper roll" in err
    assert "Traceback" not in err
    # the sale is untouched
    j = Journal(journal)
    try:
        record = j.by_payment_id(PAID)
        assert record is not None and record.state == "approved"
    finally:
        j.close()


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (("receipt", "pay_unknown"), 2, "no sale with payment id or reference 'pay_unknown'"),
        (("receipt", "t1-open"), 1, "sale t1-open is amount_entered: only approved, declined, refunded"),
        (("receipt", PAID, "--printer", "printer:lpt1"), 2, "unknown printer kind 'lpt1'"),
    ],
)
def test_receipt_refusals(
    journal: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: int, says: str
) -> None:
    got, _, err = run(capsys, *argv, "--journal", str(journal))
    assert got == code and says in err


def test_report_print(journal: Path, fake_printer: MakePrinter, capsys: pytest.CaptureFixture[str]) -> None:
    fp = fake_printer()
    code, out, err = run(
        capsys, "report", "--journal", str(journal), "--day", "2026-11-18", "--printer", fp.device
    )
    assert code == 0 and "Z-report 2026-11-18" in out and f"printed the Z-report on {fp.device}" in err
    printed = read_back(fp.wait_jobs(1)[0])
    text = printed.lines
    assert "Z-REPORT" in [t.strip() for t in text]
    assert any(t.startswith("approved x1") and t.endswith("13.75 EUR") for t in text)
    assert any(t.startswith("declined x1") and t.endswith("3.00 EUR") for t in text)
    assert len(printed.cuts) == 1
    code, _, err = run(capsys, "report", "--journal", str(journal), "--print")  # printer:none configured
    assert code == 1 and "No receipt printer" in err

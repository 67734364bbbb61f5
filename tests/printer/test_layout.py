"""The receipt and report layouts: pure functions of the data, fitted to the paper's columns."""

from __future__ import annotations

from datetime import date

import pytest

from drivers.printer.encode import encode
from drivers.printer.ops import Cut, Line, QrCode
from terminal.domain.money import Money, asset
from terminal.domain.zreport import DayWindow, z_report
from terminal.printing import receipt_ops, report_ops
from tests.printer.helpers import read_back, sample_receipt
from tests.support import refund_record as refund
from tests.support import sale_record as sale


@pytest.mark.parametrize("columns", [32, 42, 48])
def test_every_line_fits_the_paper_and_nothing_is_cut_off(columns: int) -> None:
    long_id = "pay_" + "9" * 60  # longer than any paper: wrapped, never truncated
    ops = receipt_ops(
        sample_receipt(payment_id=long_id, merchant="Le Très Grand Café de la Gare"), columns=columns
    )
    lines = [op for op in ops if isinstance(op, Line)]
    for line in lines:
        assert len(line.text) * (2 if line.double else 1) <= columns, line
    assert "".join(line.text.strip() for line in lines if line.align == "right").count(long_id) == 1
    assert "Le Très Grand Café de la Gare" in "".join(line.text for line in lines[:2])


def test_the_receipt_has_its_lines_tip_amounts_rate_ids_qr_and_a_cut() -> None:
    receipt = sample_receipt()
    ops = receipt_ops(receipt, columns=42)
    text = [op.text for op in ops if isinstance(op, Line)]
    assert text[0] == "Demo Café" and ops[0] == Line("Demo Café", bold=True, align="center", double=True)
    assert "Sale".ljust(34) + "4.09 EUR" in text  # 4.50 total less the 0.41 tip, on 42 columns
    assert "Tip".ljust(34) + "0.41 EUR" in text
    assert any(t.startswith("TOTAL") and t.endswith("4.50 EUR") for t in text)
    assert any(t.startswith("Paid") and t.endswith("0.00004512 BTC") for t in text)
    assert any(t.startswith("Rate") and t.endswith("99734.12 EUR/BTC") for t in text)
    assert "APPROVED" in text
    assert any(t.startswith("Payment") and t.endswith(receipt.payment_id or "") for t in text)
    assert [op for op in ops if isinstance(op, QrCode)] == [QrCode(receipt.link, module=6)]
    assert isinstance(ops[-1], Cut)


def test_a_sale_without_tip_or_quote_has_no_such_lines() -> None:
    ops = receipt_ops(sample_receipt(tip=None, crypto=None, rate=None, status="declined"), columns=42)
    text = " ".join(op.text for op in ops if isinstance(op, Line))
    assert "Tip" not in text and "Sale " not in text and "Paid" not in text and "Rate" not in text
    assert "DECLINED" in text


@pytest.mark.parametrize(
    ("code", "minor", "shown"), [("JPY", 1000, "1,000 JPY"), ("KWD", 12345, "12.345 KWD")]
)
def test_currencies_print_with_their_own_decimals(code: str, minor: int, shown: str) -> None:
    ops = receipt_ops(sample_receipt(fiat=Money(minor, asset(code)), tip=None, rate="1"), columns=42)
    assert any(isinstance(op, Line) and op.text.endswith(shown) for op in ops)


def test_control_characters_in_data_never_reach_the_printer_as_commands() -> None:
    # a merchant name or an id from the backend with ESC/GS inside would otherwise cut or reset
    evil = sample_receipt(merchant="Café\x1dV\x00\x1b@", payment_id="pay_\x1bd\x09x")
    out = read_back(encode(receipt_ops(evil, columns=42)))
    assert len(out.cuts) == 1
    assert "Café?V??@" in out.lines and any(line.endswith("pay_?d?x") for line in out.lines)


def test_the_report_layout() -> None:
    window = DayWindow.utc(date(2026, 11, 28))
    noon = window.start + 12 * 3600
    report = z_report(
        window,
        sales=[
            sale("approved", 1320, crypto_minor=12_000, tip_minor=120, created_at=noon),
            sale("approved", 380, crypto_minor=8_000, tip_minor=0, created_at=noon),
            sale("cancelled", 300, "ETH", created_at=noon),
        ],
        refunds=[refund("approved", 10_000, at=noon)],
        unsettled=[sale("offline_queued", 500), sale("unknown_outcome", 1), sale("submitting", 2)],
    )
    ops = report_ops(report, merchant="Demo Café", terminal="t1", printed_at=1_795_000_000, columns=42)
    text = [op.text for op in ops if isinstance(op, Line)]
    assert text[:3] == ["Demo Café", "Z-REPORT", "2026-11-28 (UTC)"]
    assert any(t.startswith("tips") and t.endswith("1.20 EUR") for t in text)
    assert any(t.startswith("approved x2") and t.endswith("17.00 EUR") for t in text)
    assert any(t.startswith("  BTC x2") and t.endswith("0.0002 BTC") for t in text)
    assert any(t.startswith("  ETH x1") and t.endswith("(no quote)") for t in text)
    assert any(t.startswith("refund approved x1") and t.endswith("0.0001 BTC") for t in text)
    assert any(t.startswith("offline queue x1") and t.endswith("5.00 EUR") for t in text)
    assert any(t.startswith("open sales") and t.endswith("2") for t in text)
    assert isinstance(ops[-1], Cut) and all(len(t) <= 42 for t in text)

"""`report`, `history --since` and `receipt` on the merchant's business day and in its locale,
through the real command line entry, over a real journal."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.journal import Journal


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


LATE = at("2026-03-14T22:30:00+00:00")  # 07:30 on the 15th in Tokyo
EARLY = at("2026-03-14T10:00:00+00:00")  # 19:00 on the 14th in Tokyo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    """Two approved sales on one UTC day, which are two days in Tokyo."""
    path = tmp_path / "j.sqlite3"
    for ref, when, minor in (("late", LATE, 123456), ("early", EARLY, 700)):
        j = Journal(path, clock=lambda when=when: when)
        j.open_sale(
            reference=ref, idempotency_key=f"k-{ref}", fiat_minor=minor, fiat_currency="EUR", asset="BTC"
        )
        j.update(ref, "approved", payment_id=f"pay_{ref}", crypto_minor=1200, rate="95000.00")
        j.close()
    return path


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOPOS_MERCHANT__TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("CRYPTOPOS_MERCHANT__LOCALE", "de_DE")


def test_report_counts_a_sale_on_the_merchants_day(
    journal_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "report", "--journal", str(journal_path), "--day", "2026-03-14", "--json")
    assert code == 0 and json.loads(out)["sales"]["approved"]["count"] == 2  # one UTC day
    monkeypatch.setenv("CRYPTOPOS_MERCHANT__TIMEZONE", "Asia/Tokyo")
    for day, fiat in (("2026-03-14", "7.00"), ("2026-03-15", "1234.56")):
        code, out, _ = run(capsys, "report", "--journal", str(journal_path), "--day", day, "--json")
        rep = json.loads(out)
        assert code == 0 and (rep["day"], rep["zone"]) == (day, "Asia/Tokyo")
        assert rep["sales"]["approved"]["count"] == 1 and rep["sales"]["approved"]["fiat"] == {"EUR": fiat}


@pytest.mark.usefixtures("tokyo")
def test_report_text_is_in_the_merchants_locale(
    journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "report", "--journal", str(journal_path), "--day", "2026-03-15")
    assert code == 0 and "Z-report 2026-03-15 (Asia/Tokyo)" in out
    assert "1.234,56 €" in out and "0,000012 BTC" in out
    code, out, _ = run(capsys, "report", "--journal", str(journal_path), "--day", "2026-03-15", "--json")
    assert json.loads(out)["sales"]["approved"]["fiat"] == {"EUR": "1234.56"}  # machines keep the plain form


@pytest.mark.usefixtures("tokyo")
def test_history_since_a_date_starts_at_the_merchants_midnight(
    journal_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "history", "--journal", str(journal_path), "--since", "2026-03-15", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["reference"] for r in rows] == ["late"]
    assert rows[0]["created_at"] == "2026-03-15T07:30:00+09:00"
    # a date-time without an offset is a Tokyo wall-clock time; one with an offset is that instant
    code, out, _ = run(
        capsys, "history", "--journal", str(journal_path), "--since", "2026-03-14T19:00", "--json"
    )
    assert sorted(r["reference"] for r in json.loads(out)) == ["early", "late"]
    code, out, _ = run(
        capsys, "history", "--journal", str(journal_path), "--since", "2026-03-14T19:00:01+09:00", "--json"
    )
    assert [r["reference"] for r in json.loads(out)] == ["late"]


@pytest.mark.usefixtures("tokyo")
def test_receipt_shows_local_time_and_money(journal_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "receipt", "pay_late", "--journal", str(journal_path), "--text")
    assert code == 0, err
    assert "1.234,56 €" in out and "0,000012 BTC" in out
    assert "2026-03-15 07:30:00 JST" in out

"""The journal: real SQLite files, WAL with synchronous=FULL, versioned migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from terminal.journal import MIGRATIONS, Journal, ReplayError, payload_hash


def sale(j: Journal, ref: str, minor: int = 1000) -> None:
    j.open_sale(reference=ref, idempotency_key=f"k-{ref}", fiat_minor=minor, fiat_currency="EUR", asset="BTC")


def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert j.schema_version == len(MIGRATIONS)


def test_migrates_a_version_1_journal_keeping_its_sales(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    for stmt in filter(str.strip, MIGRATIONS[0].split(";")):
        db.execute(stmt)
    db.execute(
        "INSERT INTO sales VALUES ('r1','k1',500,'EUR','BTC',NULL,NULL,NULL,'unknown_outcome',NULL,NULL,1,1)"
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    j = Journal(path)
    assert j.schema_version == len(MIGRATIONS)
    rec = j.get("r1")
    assert rec is not None and rec.state == "unknown_outcome" and rec.offline == 0
    assert rec.tip_minor is None and rec.rate is None  # a sale from before migration 3
    assert [s.reference for s in j.unsettled()] == ["r1"]


def test_state_changes_are_kept_as_events_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    sale(j, "r1")
    j.update("r1", "awaiting_payment", quote_id="q", crypto_minor=42)
    j.update("r1", "submitting", payload_hash=payload_hash("secret-card-data"))
    j.update("r1", "approved", payment_id="p1")
    j.close()
    j = Journal(path)
    rec = j.get("r1")
    assert rec is not None and rec.state == "approved" and rec.final
    assert j.events("r1") == ["amount_entered", "awaiting_payment", "submitting", "approved"]
    raw = path.read_bytes() + (
        path.with_name(path.name + "-wal").read_bytes()
        if path.with_name(path.name + "-wal").exists()
        else b""
    )
    assert b"secret-card-data" not in raw
    with pytest.raises(ValueError, match="not journal fields"):
        j.update("r1", "approved", evil="x")
    with pytest.raises(KeyError):
        j.update("nope", "approved")


def test_offline_queue_keeps_order_and_totals(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    for ref, minor in (("a", 1000), ("b", 2000), ("c", 500)):
        sale(j, ref, minor)
        j.queue_offline(ref, payload=f"tok-{ref}", payload_kind="bolt_card")
    assert [s.reference for s in j.offline_queue()] == ["a", "b", "c"]
    assert [s.queue_seq for s in j.offline_queue()] == [1, 2, 3]
    assert j.offline_total("EUR") == 3500
    j.update("a", "approved", payment_id="p", payload=None)
    assert j.offline_total("EUR") == 2500
    assert j.get("a").payload is None  # type: ignore[union-attr]


def test_replayed_token_and_old_card_counter_are_refused(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.remember_token("wallet_token", "nonce-1", "r1")
    with pytest.raises(ReplayError, match="already presented") as info:
        j.remember_token("wallet_token", "nonce-1", "r2")
    assert info.value.first_reference == "r1"
    j.remember_token("bolt_card", "nonce-1", "r3")  # another kind is another namespace
    j.advance_counter("04AABB", 5, "r1")
    j.advance_counter("04AABB", 6, "r2")
    with pytest.raises(ReplayError, match="not above"):
        j.advance_counter("04AABB", 6, "r3")
    with pytest.raises(ReplayError):
        j.advance_counter("04AABB", 2, "r3")
    j.advance_counter("04CCDD", 1, "r4")
    rows = j._db.execute("SELECT token_hash FROM seen_tokens").fetchall()
    assert all("nonce" not in r[0] for r in rows)


def test_refunds_and_notices(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    r = j.open_refund(
        idempotency_key="rk", payment_id="p", reference="r", amount_minor=5, asset="BTC", to="bc1q"
    )
    again = j.open_refund(
        idempotency_key="rk", payment_id="p", reference="r", amount_minor=5, asset="BTC", to="bc1q"
    )
    assert r == again and r.state == "submitting"
    j.update_refund("rk", "pending", refund_id="rf")
    assert j.refund("rk").refund_id == "rf"  # type: ignore[union-attr]
    j.record_notice(api="payments/v1", deprecation="@1", sunset="Thu, 01 Jul 2027 00:00:00 GMT", link=None)
    j.record_notice(api="payments/v1", deprecation="@1", sunset="Thu, 01 Jul 2027 00:00:00 GMT", link=None)
    assert [n.api for n in j.notices()] == ["payments/v1"]


def test_a_settled_sale_never_changes_its_outcome(tmp_path: Path) -> None:
    from terminal.journal import SaleFinalError

    j = Journal(tmp_path / "j.sqlite3")
    sale(j, "r1")
    j.update("r1", "approved", payment_id="p1")
    j.update("r1", "approved", payload=None)  # the same outcome may be written again
    with pytest.raises(SaleFinalError, match="already approved"):
        j.update("r1", "declined")
    assert j.get("r1").state == "approved"  # type: ignore[union-attr]


def test_sales_and_refunds_filter_by_state_payment_and_time(tmp_path: Path) -> None:
    now = [100.0]
    j = Journal(tmp_path / "j.sqlite3", clock=lambda: now[0])
    for ref, at in (("a", 100.0), ("b", 200.0), ("c", 300.0)):
        now[0] = at
        sale(j, ref)
        j.open_refund(
            idempotency_key=f"rk-{ref}",
            payment_id=f"p-{ref}",
            reference=ref,
            amount_minor=1,
            asset="BTC",
            to="x",
        )
    j.update("b", "approved", payment_id="p-b")
    assert [s.reference for s in j.sales()] == ["a", "b", "c"]
    assert [s.reference for s in j.sales(states=("approved", "declined"))] == ["b"]
    assert [s.reference for s in j.sales(since=200.0)] == ["b", "c"]
    assert [s.reference for s in j.sales(since=100.0, until=300.0)] == ["a", "b"]
    assert [s.reference for s in j.sales(states=("amount_entered",), until=300.0)] == ["a"]
    assert [s.reference for s in j.unsettled()] == ["a", "c"]
    assert [r.reference for r in j.refunds(payment_id="p-c")] == ["c"]
    assert [r.reference for r in j.refunds(since=150.0, until=250.0)] == ["b"]
    assert [r.reference for r in j.refunds()] == ["a", "b", "c"]

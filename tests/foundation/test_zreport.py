"""The Z-report: one pure function of the records and a day window, shared by every face."""

from __future__ import annotations

from datetime import date
from typing import Any

from terminal.domain.money import Money, asset
from terminal.domain.zreport import QUEUED_STATES, DayWindow, z_report
from terminal.journal import OFFLINE_STATES, SaleRecord
from tests.support import refund_record as refund
from tests.support import sale_record

DAY = date(2026, 3, 14)
NOON = DayWindow.utc(DAY).start + 12 * 3600


def sale(state: str, fiat_minor: int, code: str = "BTC", **changes: Any) -> SaleRecord:
    return sale_record(state, fiat_minor, code, **{"created_at": NOON, **changes})


def test_the_window_is_one_utc_day_end_excluded() -> None:
    window = DayWindow.utc(DAY)
    assert (window.end - window.start, window.zone) == (86_400, "UTC")
    assert window.start in window and window.end not in window and window.start - 1 not in window
    assert DayWindow.utc_of(NOON) == window and DayWindow.utc_of(window.end).day == date(2026, 3, 15)


def test_totals_per_state_and_asset_tips_refunds_queue_and_open() -> None:
    window = DayWindow.utc(DAY)
    sales = [
        sale("approved", 1320, crypto_minor=13_000, tip_minor=120),
        sale("approved", 700, crypto_minor=7_000, tip_minor=0),
        sale("approved", 500, "ETH", crypto_minor=10**15, tip_minor=None),  # journaled before tips
        sale("declined", 300, crypto_minor=3_000, tip_minor=50),  # a declined sale's tip is not taken
        sale("cancelled", 900, "SOL"),  # never quoted
        sale("approved", 9_999, created_at=window.start - 1, crypto_minor=1),  # the day before
        sale("approved", 8_888, created_at=window.end, crypto_minor=1),  # the day after
    ]
    refunds = [
        refund("approved", 1_000, at=NOON),
        refund("approved", 500, at=NOON),
        refund("failed", 7, at=NOON),
        refund("x", 1),
    ]
    unsettled = [
        sale("offline_queued", 450),
        sale("forwarding", 50),
        sale("unknown_outcome", 1_000),
        sale("awaiting_payment", 1_000, created_at=0),  # open now, whatever its day
    ]
    rep = z_report(window, sales=sales, refunds=refunds, unsettled=unsettled)
    eur, btc = asset("EUR"), asset("BTC")
    assert list(rep.sales) == ["approved", "cancelled", "declined"]
    approved = rep.sales["approved"]
    assert (approved.count, approved.fiat) == (3, {"EUR": Money(2520, eur)})
    assert approved.crypto["BTC"].count == 2 and approved.crypto["BTC"].amount == Money(20_000, btc)
    assert approved.crypto["ETH"].amount == Money(10**15, asset("ETH"))
    assert rep.sales["cancelled"].crypto["SOL"].amount is None  # no quote, not a zero
    assert rep.tips == {"EUR": Money(120, eur)}
    assert {k: (r.count, r.amount.minor) for k, r in rep.refunds.items()} == {
        ("approved", "BTC"): (2, 1_500),
        ("failed", "BTC"): (1, 7),
    }
    assert (rep.queued, rep.queued_fiat, rep.open) == (2, {"EUR": Money(500, eur)}, 2)
    assert rep.to_json() == {
        "day": "2026-03-14",
        "zone": "UTC",
        "sales": {
            "approved": {
                "count": 3,
                "fiat": {"EUR": "25.20"},
                "crypto": {
                    "BTC": {"count": 2, "amount": "0.00020000", "minor": "20000"},
                    "ETH": {"count": 1, "amount": "0.001000000000000000", "minor": str(10**15)},
                },
            },
            "cancelled": {
                "count": 1,
                "fiat": {"EUR": "9.00"},
                "crypto": {"SOL": {"count": 1, "amount": None, "minor": None}},
            },
            "declined": {
                "count": 1,
                "fiat": {"EUR": "3.00"},
                "crypto": {"BTC": {"count": 1, "amount": "0.00003000", "minor": "3000"}},
            },
        },
        "tips": {"EUR": "1.20"},
        "refunds": {
            "approved/BTC": {"count": 2, "amount": "0.00001500"},
            "failed/BTC": {"count": 1, "amount": "0.00000007"},
        },
        "offline_queue": {"count": 2, "fiat": {"EUR": "5.00"}},
        "open": 2,
    }
    text = rep.lines()
    assert text[0] == "Z-report 2026-03-14 (UTC)"
    assert "  approved             3  25.20 EUR" in text
    assert "      BTC              2  0.0002 BTC" in text
    assert "      SOL              1  (no quote)" in text
    assert "  tips                    1.20 EUR" in text
    assert "  refund approved      2  0.000015 BTC" in text
    assert "  offline queue        2  5.00 EUR" in text
    assert any(line.startswith("  open sales           2") for line in text)


def test_an_empty_day() -> None:
    rep = z_report(DayWindow.utc(DAY), sales=[sale("approved", 100, created_at=0)], refunds=[])
    assert (rep.sales, rep.tips, rep.refunds, rep.queued, rep.open) == ({}, {}, {}, 0, 0)
    assert rep.lines() == [
        "Z-report 2026-03-14 (UTC)",
        "  no sales",
        "  refunds                 none",
        "  offline queue        0",
    ]


def test_queued_states_are_the_journals_offline_states() -> None:
    assert QUEUED_STATES == OFFLINE_STATES

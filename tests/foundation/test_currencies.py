"""Every fiat the terminal knows, end to end: exponents 0, 2 and 3 (JPY, EUR, KWD).

The offline caps are stated per currency (``[offline.max_payment]``), so a sale in any currency
reads its own caps; ``config check`` refuses what ``pay`` would refuse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from terminal.config import ConfigError, load_settings
from terminal.domain.money import ASSETS, AssetKind, Money
from terminal.journal import Journal
from terminal.sale import offline_policy
from terminal.tui.keypad import Keypad, tip_of
from terminal.tui.updates import Receipt

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "terminal.toml"
# (currency, what a cashier types, its minor units)
SALES = [("JPY", "1000", 1000), ("EUR", "12.50", 1250), ("KWD", "4.125", 4125)]
FIATS = sorted(code for code, a in ASSETS.items() if a.kind is AssetKind.FIAT)


def cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOPOS_")}
    return subprocess.run(
        [sys.executable, "-m", "terminal", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
    )


@pytest.mark.parametrize(("currency", "typed", "minor"), SALES)
def test_pay_in_every_exponent_is_approved_on_the_shipped_config(
    tmp_path: Path, currency: str, typed: str, minor: int
) -> None:
    # the command, with the shipped config/terminal.toml (run from the repository)
    done = cli(
        "pay",
        "--amount",
        typed,
        "--currency",
        currency,
        "--asset",
        "BTC",
        "--reader",
        "sim:nfc",
        "--journal",
        str(tmp_path / "journal.sqlite3"),
        "--json",
    )
    assert done.returncode == 0, done.stderr + done.stdout
    out = json.loads(done.stdout)
    assert out["status"] == "approved"
    assert out["fiat"] == {"amount": typed, "minor": minor, "currency": currency}


@pytest.mark.parametrize("currency", FIATS)
def test_the_shipped_config_states_caps_every_currency_can_read(currency: str) -> None:
    loaded = load_settings(
        file=SHIPPED, env={}, overrides={"terminal.fiat_currency": (currency, "--currency")}
    )
    policy = offline_policy(loaded.settings)
    cap = policy.cap_for(currency)
    assert cap.max_payment.asset.code == currency and cap.max_payment.is_positive()
    assert cap.max_total.asset.code == currency and cap.max_payment < cap.max_total


def test_config_check_refuses_a_cap_that_cannot_be_read_in_its_currency(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(
        '[offline.max_payment]\nJPY = "50.00"\nKWD = "1.2345"\nEUR = "50"\n[offline.max_total]\nXYZ = "1"\n'
    )
    done = cli("config", "check", str(f))
    assert done.returncode == 2
    assert "offline.max_payment" in done.stderr and "JPY has no decimals" in done.stderr
    assert "KWD allows at most 3 decimals" in done.stderr
    assert "XYZ" in done.stderr and "not a fiat currency" in done.stderr
    assert "EUR = " not in done.stderr  # "50" is 50.00 EUR: exact, so fine


def test_a_single_amount_for_every_currency_is_refused_with_the_table_form(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text('[offline]\nmax_payment = "50.00"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(file=f, env={})
    assert "offline.max_payment" in str(info.value) and "per currency" in str(info.value)


def test_config_check_catches_what_pay_would_refuse(tmp_path: Path) -> None:
    # offline on, a JPY terminal, but no JPY cap: pay would have nothing to compare a sale with
    f = tmp_path / "t.toml"
    f.write_text(
        '[terminal]\nfiat_currency = "JPY"\n[offline]\nenabled = true\n'
        '[offline.max_payment]\nEUR = "50.00"\n[offline.max_total]\nEUR = "200.00"\n'
    )
    check = cli("config", "check", str(f))
    assert check.returncode == 2 and "no JPY cap" in check.stderr
    pay = cli(
        "pay", "--config", str(f), "--amount", "1000", "--reader", "sim:nfc", "--journal", str(tmp_path / "j")
    )
    assert pay.returncode == 2 and "no JPY cap" in pay.stderr


def test_caps_from_the_environment_per_currency() -> None:
    loaded = load_settings(
        file=None,
        env={
            "CRYPTOPOS_OFFLINE__MAX_PAYMENT": "JPY=7000,KWD=15.000",
            "CRYPTOPOS_TERMINAL__FIAT_CURRENCY": "JPY",
        },
    )
    policy = offline_policy(loaded.settings)
    assert policy.cap_for("JPY").max_payment == Money(7000, ASSETS["JPY"])
    assert policy.cap_for("KWD").max_payment == Money(15000, ASSETS["KWD"])
    assert loaded.source_of("offline.max_payment") == "env CRYPTOPOS_OFFLINE__MAX_PAYMENT"


@pytest.mark.parametrize(("currency", "typed", "minor"), SALES)
def test_offline_caps_in_each_currency(tmp_path: Path, currency: str, typed: str, minor: int) -> None:
    caps = {"JPY": ("1000", "1500"), "EUR": ("12.50", "20.00"), "KWD": ("4.125", "6.000")}
    settings = load_settings(
        file=None,
        env={},
        overrides={
            "offline.enabled": (True, "test"),
            "terminal.fiat_currency": (currency, "test"),
            "offline.max_payment": ({currency: caps[currency][0]}, "test"),
            "offline.max_total": ({currency: caps[currency][1]}, "test"),
        },
    ).settings
    policy = offline_policy(settings)
    sale = Money(minor, ASSETS[currency])
    assert policy.refusal(sale, 0) is None  # exactly at the cap is taken
    one_more = Money(minor + 1, ASSETS[currency])
    refusal = policy.refusal(one_more, 0)
    assert refusal is not None and f"limited to {Money(minor, ASSETS[currency])} each" in refusal
    full = policy.refusal(sale, Money.parse(caps[currency][1], currency).minor - minor + 1)
    assert full is not None and "offline queue is full" in full
    # a currency without a cap is never taken offline, and says why
    other = next(c for c in ("EUR", "USD") if c != currency)
    why = policy.refusal(Money(1, ASSETS[other]), 0)
    assert why is not None and f"no offline cap for {other}" in why


@pytest.mark.parametrize(
    ("currency", "base", "percent", "tip"),
    [("JPY", 1005, 10, 101), ("EUR", 1005, 10, 101), ("KWD", 4125, 15, 619), ("KWD", 4125, 10, 413)],
)
def test_tips_round_half_up_to_the_minor_unit(currency: str, base: int, percent: int, tip: int) -> None:
    assert tip_of(Money(base, ASSETS[currency]), percent) == Money(tip, ASSETS[currency])


def test_the_keypad_takes_each_currency_as_its_exponent_allows() -> None:
    jpy = Keypad(ASSETS["JPY"])
    for key in "1.000":
        jpy.press(key)
    assert jpy.display() == "1,000" and jpy.amount() == Money(1000, ASSETS["JPY"])  # no point in yen
    kwd = Keypad(ASSETS["KWD"])
    for key in "4.1255":
        kwd.press(key)
    assert kwd.display() == "4.125" and kwd.amount() == Money(4125, ASSETS["KWD"])  # a 4th decimal is refused
    eur = Keypad(ASSETS["EUR"])
    for key in "12.5":
        eur.press(key)
    assert eur.display() == "12.5_" and eur.amount() == Money(1250, ASSETS["EUR"])


@pytest.mark.parametrize(("currency", "typed", "minor"), SALES)
def test_the_z_report_writes_each_currency_with_its_own_decimals(
    tmp_path: Path, currency: str, typed: str, minor: int
) -> None:
    from terminal.domain.zreport import DayWindow
    from terminal.reporting import read_z_report

    journal = Journal(tmp_path / "j.sqlite3")
    try:
        journal.open_sale(
            reference="r1", idempotency_key="k1", fiat_minor=minor, fiat_currency=currency, asset="BTC"
        )
        journal.update("r1", "awaiting_payment", crypto_minor=5000, quote_id="q1")
        journal.update("r1", "submitting", payload_hash="h")
        journal.update("r1", "approved", payment_id="p1")
        rep = read_z_report(journal, DayWindow.utc_of(time.time())).to_json()
    finally:
        journal.close()
    assert rep["sales"]["approved"]["fiat"] == {currency: typed}


@pytest.mark.parametrize(("currency", "typed", "minor"), SALES)
def test_the_receipt_writes_amounts_and_tip_in_each_currency(currency: str, typed: str, minor: int) -> None:
    total = Money(minor, ASSETS[currency])
    tip = tip_of(total, 10)
    receipt = Receipt(
        merchant="Demo Café",
        terminal="t1",
        at=1_773_489_600.0,
        status="approved",
        fiat=total + tip,
        tip=tip,
        crypto=Money(12345, ASSETS["BTC"]),
        rate="14435911.5770",
        quote_id="q_0123456789abcdef0123",
        payment_id="pay_0123456789abcdef0123",
        reference="t_demo_01-1a223547ac6-657ac16f",
        link="cryptopos:receipt?payment=pay_0123456789abcdef0123&reference=t_demo_01-1a223547ac6-657ac16f",
    )
    text = receipt.text(width=36)
    assert (total + tip).format() in text and f"{tip.format()}" in text
    assert all(len(line) <= 36 for line in text.splitlines()), text
    tip_line = next(line for line in text.splitlines() if "incl. tip" in line)
    assert tip_line.rstrip().endswith(tip.format())  # on one line, never wrapped

"""The embedded default keeps its ledger next to the journal (owner-only), so what one command
paid the next command can refund: each command is its own process, as a merchant runs them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.foundation.test_currencies import cli

GOOD_BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def test_a_payment_is_refunded_by_a_later_command_and_history_shows_both(tmp_path: Path) -> None:
    journal = tmp_path / "var" / "journal.sqlite3"
    paid = cli(
        "pay",
        "--amount",
        "4.50",
        "--asset",
        "BTC",
        "--reader",
        "sim:nfc",
        "--journal",
        str(journal),
        "--json",
    )
    assert paid.returncode == 0, paid.stderr
    payment = json.loads(paid.stdout)
    ledger = journal.with_name("embedded-backend.sqlite3")
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600  # it holds every payment, as the journal does

    # a refund needs a manager (the embedded backend's policy: approval for every refund); the
    # manager made in a third process lives in that same kept ledger
    pin = tmp_path / "manager.pin"
    pin.write_text("97531\n")
    pin.chmod(0o600)
    made = cli(
        "staff",
        "add",
        "Max",
        "--role",
        "manager",
        "--id",
        "s_max",
        "--pin-file",
        str(pin),
        "--journal",
        str(journal),
    )
    assert made.returncode == 0, made.stderr + made.stdout
    refunded = cli(
        "refund", payment["payment_id"], "--to", GOOD_BTC, "--journal", str(journal),
        "--approver", "s_max", "--approve-with", str(pin), "--json",
    )  # fmt: skip
    assert refunded.returncode == 0, refunded.stderr + refunded.stdout
    refund = json.loads(refunded.stdout)
    assert refund["status"] == "completed" and refund["refund_id"]
    assert refund["amount_minor"] == payment["crypto"]["minor"]

    shown = cli("history", "--journal", str(journal), "--json")
    (sale,) = json.loads(shown.stdout)
    assert sale["payment_id"] == payment["payment_id"] and sale["status"] == "approved"
    assert [(r["status"], r["refund_id"], r["to"]) for r in sale["refunds"]] == [
        ("completed", refund["refund_id"], GOOD_BTC)
    ]
    text = cli("history", "--journal", str(journal)).stdout
    assert "refund completed" in text and refund["refund_id"] in text

    # the ledger remembers it too: a second refund finds nothing left, before anything is sent
    again = cli(
        "refund", payment["payment_id"], "--to", GOOD_BTC, "--journal", str(journal),
        "--approver", "s_max", "--approve-with", str(pin),
    )  # fmt: skip
    assert again.returncode == 2 and "nothing left to refund" in again.stderr


def test_a_ledger_that_cannot_be_opened_is_one_error_naming_it(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    (tmp_path / "embedded-backend.sqlite3").write_bytes(b"not a database, a file a person may need" * 200)
    done = cli("pay", "--amount", "4.50", "--asset", "BTC", "--reader", "sim:nfc", "--journal", str(journal))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "embedded backend's ledger" in done.stderr and "embedded-backend.sqlite3" in done.stderr
    assert "move the file aside" in done.stderr

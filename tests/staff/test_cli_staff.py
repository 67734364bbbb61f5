"""`cryptopos staff`, `cryptopos audit`, the refund's approval and the report per staff, run
through the real command line entry against a real backend (uvicorn on loopback) behind the
staff contract."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.cli import main
from terminal.journal import Journal
from tests.staff.contract import StaffContract
from tests.support import NO_APPROVAL, serve, shows

KEY_ID, SECRET = "t_demo_01", b"demo-secret-do-not-use-in-production"
ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, StaffContract]]:
    store = Store(tmp_path_factory.mktemp("ledger") / "ledger.sqlite3")
    contract = StaffContract(
        create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}, refunds=NO_APPROVAL)),
        keys={KEY_ID: SECRET},
    )
    contract.add("s_max", "Max Manager", "manager", "1357")
    with serve(contract) as url:
        yield url, contract
    store.close()


@pytest.fixture(autouse=True)
def _env(backend: tuple[str, StaffContract], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRYPTOPOS_BACKEND__URL", backend[0])
    monkeypatch.setenv("CRYPTOPOS_JOURNAL__PATH", str(tmp_path / "till.sqlite3"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def pin_file(tmp_path: Path, pin: str, mode: int = 0o600, name: str = "pin") -> str:
    path = tmp_path / name
    path.write_text(pin + "\n")
    path.chmod(mode)
    return str(path)


def test_staff_add_list_disable_reset_and_sync(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "staff", "add", "Cass Cashier", "--id", "s_cas", "--pin-file", pin_file(tmp_path, "2468")
    )
    assert code == 0 and out.strip() == "s_cas", err
    code, out, _ = run(capsys, "staff", "add", "Dee", "--pin-file", pin_file(tmp_path, "8642", name="d"))
    dee = out.strip()
    assert code == 0 and dee.startswith("s_") and len(dee) == 12
    code, out, err = run(
        capsys,
        "staff",
        "add",
        "Cass Again",
        "--id",
        "s_cas",
        "--pin-file",
        pin_file(tmp_path, "1111", name="e"),
    )
    assert code == 2 and "already on this till" in err
    code, out, _ = run(capsys, "staff", "sync")
    assert code == 0 and "1 added (s_max)" in out
    code, out, _ = run(capsys, "staff", "list", "--json")
    rows = {r["staff_id"]: r for r in json.loads(out)}
    assert rows["s_cas"]["pin"] == "on this till" and rows["s_max"]["pin"] == "on the backend"
    assert rows["s_max"]["role"] == "manager" and rows["s_max"]["origin"] == "backend"
    code, out, _ = run(capsys, "staff", "disable", "s_cas")
    assert code == 0 and "disabled" in out
    code, out, _ = run(capsys, "staff", "list")
    assert "s_cas" in out and "disabled" in out and "2468" not in out
    code, _, err = run(
        capsys, "staff", "reset-pin", "s_max", "--pin-file", pin_file(tmp_path, "1111", name="f")
    )
    assert code == 2 and "backend staff reset-pin s_max" in err
    code, out, _ = run(capsys, "staff", "reset-pin", dee, "--pin-file", pin_file(tmp_path, "9999", name="g"))
    assert code == 0 and "new PIN set" in out
    code, out, _ = run(capsys, "audit", "--json")
    events = [(r["event"], r["subject"]) for r in json.loads(out)]
    assert ("staff_added", "s_cas") in events and ("staff_changed", "s_cas") in events
    assert ("pin_reset", dee) in events and ("roster_synced", None) in events


def test_a_pin_file_others_can_read_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "staff", "add", "Cass", "--pin-file", pin_file(tmp_path, "2468", 0o644))
    assert code == 2 and "chmod 600" in err and "0644" in err and "2468" not in err
    code, _, err = run(capsys, "staff", "add", "Cass", "--pin-file", pin_file(tmp_path, "12ab", name="x"))
    assert code == 2 and "4 to 8 digits" in err and "12ab" not in err
    code, _, err = run(capsys, "staff", "add", "Cass")  # no terminal under pytest, no file
    assert code == 2 and "--pin-file" in err


def test_a_pin_is_asked_with_getpass_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    asked: list[str] = []
    answers = iter(["2468", "2468", "1111", "2222"])
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or next(answers))
    code, out, _ = run(capsys, "staff", "add", "Cass", "--id", "s_cas")
    assert code == 0 and out.strip() == "s_cas" and asked == ["PIN for Cass (4-8 digits): ", "Again: "]
    code, _, err = run(capsys, "staff", "reset-pin", "s_cas")
    assert code == 2 and "differ" in err


def test_a_manager_is_added_on_the_backend_not_on_the_till(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "staff", "add", "Nia", "--role", "manager", "--pin-file", pin_file(tmp_path, "1357")
    )
    assert code == 2 and "cryptopos backend staff add" in err and "cryptopos staff sync" in err


def _paid(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(
        capsys,
        "pay",
        "--amount",
        "12.50",
        "--reader",
        "sim:nfc?payload=cryptopos-test:card:approve&delay=0",
        "--json",
    )
    assert code == 0, err
    return str(json.loads(out)["payment_id"])


def test_a_refund_needs_the_managers_pin_and_the_audit_shows_who_approved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: tuple[str, StaffContract]
) -> None:
    payment = _paid(capsys)
    code, _, err = run(
        capsys, "refund", payment, "--to", ADDRESS, "--approve-with", pin_file(tmp_path, "1357")
    )
    assert code == 2 and "knows no manager" in err  # before a sync the till knows no manager
    assert run(capsys, "staff", "sync")[0] == 0
    code, _, err = run(
        capsys,
        "refund",
        payment,
        "--to",
        ADDRESS,
        "--approve-with",
        pin_file(tmp_path, "1357", 0o640, "open"),
    )
    assert code == 2 and "chmod 600" in err
    code, out, _ = run(
        capsys,
        "refund",
        payment,
        "--to",
        ADDRESS,
        "--approve-with",
        pin_file(tmp_path, "7777", name="wrong"),
        "--json",
    )
    refused = json.loads(out)
    assert (
        code == 1
        and refused["status"] == "refused"
        and "Wrong PIN" in refused["reason"]
        and not shows("7777", out)
    )
    code, out, _ = run(
        capsys,
        "refund",
        payment,
        "--to",
        ADDRESS,
        "--approver",
        "s_max",
        "--approve-with",
        pin_file(tmp_path, "1357", name="right"),
        "--json",
    )
    done = json.loads(out)
    assert code == 0 and done["status"] == "completed" and done["approved_by"] == "s_max"
    code, out, _ = run(capsys, "audit", "--staff", "s_max", "--json")
    events = [(r["event"], r["approver_id"]) for r in json.loads(out)]
    assert ("approval_refused", "s_max") in events and ("refund_settled", "s_max") in events
    assert ("approved", "s_max") in events
    code, out, _ = run(capsys, "audit")
    assert code == 0 and "refund_settled" in out and "(approved by s_max)" in out and not shows("1357", out)
    code, out, _ = run(capsys, "report", "--json")
    [manager] = [t for t in json.loads(out)["staff"] if t["staff_id"] == "s_max"]
    assert manager["refunds_approved"] == 1
    code, out, _ = run(capsys, "report")
    assert "by staff" in out and "Max Manager (s_max)" in out
    journal = Journal(tmp_path / "till.sqlite3")
    try:
        [refund] = [r for r in journal.refunds() if r.refund_id]
        assert refund.approved_by == "s_max" and refund.approval_from == "s_max"
    finally:
        journal.close()


def test_the_refund_pin_is_asked_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    payment = _paid(capsys)
    assert run(capsys, "staff", "sync")[0] == 0
    asked: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "1357")
    code, out, err = run(capsys, "refund", payment, "--to", ADDRESS)
    assert code == 0, err
    assert asked == ["PIN of Max Manager (s_max), approving the refund: "] and "approved by s_max" in out


def test_audit_filters_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "audit")
    assert code == 2 and "no journal" in err
    run(capsys, "staff", "add", "Cass", "--id", "s_cas", "--pin-file", pin_file(tmp_path, "2468"))
    code, out, _ = run(capsys, "audit", "--since", "2999-01-01")
    assert code == 0 and out.strip() == "nothing in the audit trail since then"
    code, out, _ = run(capsys, "audit", "--staff", "s_nobody", "--json")
    assert json.loads(out) == []
    code, _, err = run(capsys, "audit", "--staff", "bad id")
    assert code == 2 and "--staff" in err
    code, _, err = run(capsys, "audit", "--since", "yesterday-ish")
    assert code == 2 and "--since" in err

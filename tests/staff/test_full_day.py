"""A whole day at the till (sign-ins with a wrong PIN, sales, a refund approved after a wrong
manager PIN, a switch to the manager, a settings change, the idle lock, the next sign-in), then a
grep of everything it left behind: the journal's files, every log record of every logger, and the
audit trail as `cryptopos audit` prints it. No PIN used that day, no PIN hash and no key appears
(the journal keeps the cashier's salted hash: that is the one place a hash may be, and only there)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from terminal.cli import main
from terminal.domain.session import State
from terminal.staff.desk import StaffDesk
from terminal.tui.screens.records import HistoryScreen, RefundScreen, SettingsScreen
from terminal.tui.screens.staff import PinPadScreen, SignInScreen
from tests.tui.harness import SECRET, make_till
from tests.tui.helpers import approve, screen_text, sign_in, start_sale, until

# eight digits each: no id, amount or time of the day holds them by chance
CASHIER_PIN, WRONG_CASHIER = "86420975", "97531864"
MANAGER_PIN, WRONG_MANAGER = "13579246", "24681357"
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.args) + repr(record.__dict__.get("extra")))


@pytest.fixture
def logs() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


async def test_a_full_day_leaves_no_pin_and_no_key_behind(
    tmp_path: Path, logs: Everything, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    till = make_till(tmp_path, signed_in=None)
    StaffDesk(till.journal).add_cashier("Ana Full", CASHIER_PIN, staff_id="s_ana")
    till.staff.add("s_mia", "Mia Boss", "manager", MANAGER_PIN)
    try:
        async with till.app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: till.register.backend.connected is True)
            await sign_in(pilot, "s_ana", WRONG_CASHIER)
            await until(pilot, lambda: "Wrong PIN" in screen_text(pilot))
            await sign_in(pilot, "s_ana", CASHIER_PIN)
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
            for key, state in (("t", State.APPROVED), ("d", State.DECLINED), ("t", State.APPROVED)):
                await start_sale(pilot, till)
                await pilot.press(key)
                await until(pilot, lambda state=state: till.register.session.state is state)  # type: ignore[misc]
                await pilot.press("enter")
                await until(pilot, lambda: till.register.session.state is State.IDLE)
            # the first sale refunded: a wrong manager PIN, then the right one
            await pilot.press("h")
            await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
            history = pilot.app.screen
            assert isinstance(history, HistoryScreen)
            history.query_one("DataTable").move_cursor(row=len(history.references) - 1)  # type: ignore[attr-defined]
            await pilot.press("enter", "f")
            await until(pilot, lambda: isinstance(pilot.app.screen, RefundScreen))
            refund_screen = pilot.app.screen
            refund_screen.query_one(Input).value = ADDRESS
            await pilot.press("enter")
            await approve(pilot, "s_mia", WRONG_MANAGER)
            await until(pilot, lambda: "Wrong PIN" in screen_text(pilot))
            await approve(pilot, "s_mia", MANAGER_PIN)
            await until(pilot, lambda: "✔ refund" in str(refund_screen.query_one("#refund-state").render()))
            for _ in range(3):
                await pilot.press("escape")
            # the manager takes over and turns offline payments on
            await pilot.press("u")
            await sign_in(pilot, "s_mia", MANAGER_PIN)
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
            await pilot.press("s")
            await until(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen))
            await pilot.press("o")
            await until(pilot, lambda: isinstance(pilot.app.screen, PinPadScreen))
            await approve(pilot, "s_mia", MANAGER_PIN)
            await until(pilot, lambda: till.register.settings.offline.enabled is True)
            await pilot.press("escape")
            # nobody touches the till: it locks; the cashier signs in again
            till.clock.advance(901)
            await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen))
            await sign_in(pilot, "s_ana", CASHIER_PIN)
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "AmountScreen")
    finally:
        till.close()

    monkeypatch.setenv("CRYPTOPOS_JOURNAL__PATH", str(tmp_path / "journal.sqlite3"))
    capsys.readouterr()
    for argv in (
        ["audit"],
        ["audit", "--json"],
        ["report"],
        ["report", "--json"],
        ["staff", "list", "--json"],
    ):
        assert main(argv) == 0
    printed = capsys.readouterr().out

    # the day happened as told
    for event in (
        "pin_failed",
        "signed_in",
        "sale_settled",
        "refund_settled",
        "approved",
        "approval_refused",
    ):
        assert f'"event": "{event}"' in printed, event
    for event in ("till_locked", "setting_changed", "signed_out"):
        assert f'"event": "{event}"' in printed, event
    assert '"approver_id": "s_mia"' in printed

    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("journal.sqlite3")}
    assert files and logs.lines
    log_text = "\n".join(logs.lines)
    secrets_of_the_day = [CASHIER_PIN, WRONG_CASHIER, MANAGER_PIN, WRONG_MANAGER, SECRET.decode()]
    for secret in secrets_of_the_day:
        for name, data in files.items():
            assert secret.encode() not in data, f"{secret} in {name}"
        assert secret not in log_text, f"{secret} in the logs"
        assert secret not in printed, f"{secret} in the audit output"
    # the cashier's hash stays in the journal's staff table: never in a log or the output
    import sqlite3

    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    try:
        [(stored,)] = db.execute("SELECT pin_hash FROM staff WHERE staff_id = 's_ana'").fetchall()
    finally:
        db.close()
    assert stored.startswith("scrypt$")
    salt, key = stored.split("$")[4:]
    for part in (stored, salt, key):
        assert part not in log_text and part not in printed
    assert "scrypt$" not in log_text and "scrypt$" not in printed

"""The staff desk: sign-in (cashiers on the till, managers by the backend), wrong PINs and a
lockout that survives a restart, approvals, disabled staff, and the audit trail of it all."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from terminal.client import BackendClient
from terminal.journal import Journal
from terminal.staff.desk import LockedOutError, ManagerOfflineError, StaffDesk, StaffError, WrongPinError
from tests.client.helpers import Sleeps, make_client
from tests.staff.conftest import StaffedBackend


class Clock:
    def __init__(self) -> None:
        self.now = 1_773_489_600.0

    def __call__(self) -> float:
        return self.now


def _desk(journal: Journal, client: BackendClient | None, clock: Clock) -> StaffDesk:
    async def get() -> BackendClient:
        assert client is not None
        return client

    return StaffDesk(journal, client=get if client else None, clock=clock)


async def test_a_cashier_signs_in_on_the_till_and_five_wrong_pins_lock_out_across_a_restart(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, clock=clock)
    desk = _desk(journal, None, clock)
    cass = desk.add_cashier("Cass", "2468", staff_id="s_cas")
    assert cass.has_pin and journal.pin_hash("s_cas") != "2468"
    signed = await desk.sign_in("s_cas", "2468")
    assert signed.staff_id == "s_cas" and journal.acting_staff == "s_cas"
    desk.sign_out("switch user")
    assert journal.acting_staff is None
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongPinError) as caught:
            await desk.sign_in("s_cas", "1111")
        assert caught.value.tries_left == left
    with pytest.raises(StaffError, match="Not a PIN"):  # a typo does not count
        await desk.sign_in("s_cas", "12")
    with pytest.raises(LockedOutError) as locked:
        await desk.sign_in("s_cas", "1111")
    assert locked.value.seconds == 30
    journal.close()

    journal = Journal(path, clock=clock)  # a restart of the till
    desk = _desk(journal, None, clock)
    clock.now += 10
    with pytest.raises(LockedOutError) as still:
        await desk.sign_in("s_cas", "2468")  # even the right PIN waits
    assert still.value.seconds == 20
    clock.now += 21
    with pytest.raises(LockedOutError) as longer:
        await desk.sign_in("s_cas", "0000")  # a sixth wrong one: the delay doubles
    assert longer.value.seconds == 60
    clock.now += 61
    assert (await desk.sign_in("s_cas", "2468")).failed_pins == 0
    events = [r.event for r in journal.audit_trail(staff_id="s_cas")]
    assert events.count("pin_failed") == 6 and events.count("locked_out") == 2
    assert events[-1] == "signed_in"
    journal.close()


async def test_a_disabled_member_cannot_sign_in(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    desk = _desk(journal, None, Clock())
    desk.add_cashier("Cass", "2468", staff_id="s_cas")
    desk.set_disabled("s_cas", True)
    with pytest.raises(StaffError, match="Disabled") as caught:
        await desk.sign_in("s_cas", "2468")
    assert "disabled" in caught.value.message and journal.acting_staff is None
    assert [m.staff_id for m in desk.roster()] == []
    journal.close()


async def test_a_manager_signs_in_and_approves_through_the_backend(
    tmp_path: Path, staffed: StaffedBackend
) -> None:
    clock = Clock()
    journal = Journal(tmp_path / "j.sqlite3", clock=clock)
    async with make_client(staffed.transport(), Sleeps(), api_version="v2") as client:
        desk = _desk(journal, client, clock)
        report = await desk.sync(client)
        assert sorted(report["added"]) == ["s_cas", "s_max", "s_old"]
        assert journal.pin_hash("s_max") is None  # the till never holds a manager's PIN
        desk.reset_pin("s_cas", "2468")  # a cashier the backend knows gets a PIN on this till
        await desk.sign_in("s_cas", "2468")
        with pytest.raises(WrongPinError):
            await desk.approve("s_max", "0000", "offline", subject="offline.enabled")
        approver = await desk.approve("s_max", "1357", "offline", subject="offline.enabled")
        assert approver.staff_id == "s_max"
        with pytest.raises(StaffError, match="Not a manager"):
            await desk.approve("s_cas", "2468", "settings", subject="x")
        with pytest.raises(StaffError, match="Disabled"):
            await desk.approve("s_old", "9753", "settings", subject="x")
        with pytest.raises(StaffError, match="A manager's PIN is not kept here"):
            desk.reset_pin("s_max", "1234")
        await desk.sign_in("s_max", "1357")
        assert journal.acting_staff == "s_max"
    trail = [(r.event, r.staff_id, r.approver_id, r.detail) for r in journal.audit_trail()]
    assert ("approved", "s_cas", "s_max", "offline") in trail
    assert ("approval_refused", "s_cas", "s_max", "offline: Wrong PIN") in trail
    assert trail[-1] == ("signed_in", "s_max", None, "manager")
    journal.close()


async def test_offline_a_manager_cannot_sign_in_and_is_told_why(tmp_path: Path) -> None:
    class Down(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

    journal = Journal(tmp_path / "j.sqlite3")
    journal.sync_roster([("s_max", "Max", "manager", False)])
    async with make_client(Down(), Sleeps(), api_version="v2") as client:
        desk = _desk(journal, client, Clock())
        with pytest.raises(ManagerOfflineError) as caught:
            await desk.sign_in("s_max", "1357")
    assert "cannot be reached" in caught.value.message and "cashier" in caught.value.hint
    journal.close()


async def test_the_backend_lockout_locks_the_manager_out_here_too(
    tmp_path: Path, staffed: StaffedBackend
) -> None:
    clock = Clock()
    journal = Journal(tmp_path / "j.sqlite3", clock=clock)
    journal.sync_roster([("s_max", "Max Manager", "manager", False)])
    for _ in range(5):  # wrong PINs at another till
        staffed.contract._check("s_max", "0000")
    async with make_client(staffed.transport(), Sleeps(), api_version="v2") as client:
        desk = _desk(journal, client, clock)
        with pytest.raises(LockedOutError):
            await desk.approve("s_max", "1357", "cancel", subject="sale r1")
    member = journal.staff_member("s_max")
    assert member is not None and member.locked_until is not None and member.locked_until > clock.now
    journal.close()

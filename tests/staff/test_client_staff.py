"""The client's staff calls against the contract: the roster, a manager's PIN checked for a
purpose, a refund with who asked and who approved, and the refusals the till acts on."""

from __future__ import annotations

import pytest

from terminal.client import (
    Approval,
    ApprovalRefusedError,
    BackendClient,
    BackendUnavailableError,
    StaffMember,
    UnsupportedError,
)
from terminal.domain.money import Money, asset
from tests.client.helpers import Sleeps, make_client
from tests.staff.conftest import StaffedBackend
from tests.support import shows

ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


async def _paid(client: BackendClient) -> str:
    quote = await client.quote(Money.parse("12.50", "EUR"), asset("BTC"))
    paid = await client.create_payment(
        quote=quote, reference="ref-1", payload="cryptopos-test:card:approve", idempotency_key="pay-1"
    )
    assert paid.status == "approved"
    return paid.payment_id


async def test_roster_and_verify(staffed: StaffedBackend) -> None:
    async with make_client(staffed.transport(), Sleeps(), api_version="v2") as client:
        members = await client.list_staff()
        assert StaffMember("s_max", "Max Manager", "manager", False) in members
        assert StaffMember("s_old", "Old Manager", "manager", True) in members
        ok = await client.verify_staff(staff_id="s_max", pin="1357", purpose="settings")
        assert (ok.staff_id, ok.role) == ("s_max", "manager")
        # wrong PIN, unknown, disabled, a cashier: one refusal for all
        for staff_id, pin in (("s_max", "0000"), ("s_nobody", "1357"), ("s_old", "9753"), ("s_cas", "2468")):
            with pytest.raises(ApprovalRefusedError) as caught:
                await client.verify_staff(staff_id=staff_id, pin=pin, purpose="sign-in")
            assert caught.value.type == "approval-invalid" and caught.value.status == 403
            assert pin not in str(caught.value)


async def test_five_wrong_lock_the_manager_out_with_retry_after(staffed: StaffedBackend) -> None:
    async with make_client(staffed.transport(), Sleeps(), api_version="v2") as client:
        for _ in range(5):
            with pytest.raises(ApprovalRefusedError):
                await client.verify_staff(staff_id="s_max", pin="0000", purpose="cancel")
        with pytest.raises(ApprovalRefusedError) as caught:
            await client.verify_staff(staff_id="s_max", pin="1357", purpose="cancel")
        assert caught.value.type == "approver-locked"
        assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 30
        assert caught.value.locked_until and caught.value.locked_until.endswith("Z")


async def test_a_verify_is_not_sent_again_once_it_may_have_arrived(staffed: StaffedBackend) -> None:
    import httpx

    sent: list[str] = []

    class Lost(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request.url.path)
            if request.url.path.endswith("/verify"):
                raise httpx.ReadTimeout("no answer", request=request)
            return await staffed.transport().handle_async_request(request)

    async with make_client(Lost(), Sleeps(), api_version="v2") as client:
        with pytest.raises(BackendUnavailableError, match="no answer"):
            await client.verify_staff(staff_id="s_max", pin="0000", purpose="offline")
    assert sent.count("/payments/v2/staff/verify") == 1


async def test_refund_needs_an_approval_and_a_corrected_pin_goes_with_the_same_key(
    staffed: StaffedBackend,
) -> None:
    async with make_client(staffed.transport(), Sleeps(), api_version="v2") as client:
        payment_id = await _paid(client)
        args = {"payment_id": payment_id, "amount_minor": 1000, "to": ADDRESS, "idempotency_key": "rf-1"}
        with pytest.raises(ApprovalRefusedError) as caught:
            await client.refund(**args, staff_id="s_cas")
        assert caught.value.type == "approval-required"
        with pytest.raises(ApprovalRefusedError) as caught:
            await client.refund(**args, staff_id="s_cas", approval=Approval("s_max", "9999"))
        assert caught.value.type == "approval-invalid"
        done = await client.refund(**args, staff_id="s_cas", approval=Approval("s_max", "1357"))
        assert (done.requested_by, done.approved_by, done.amount_minor) == ("s_cas", "s_max", 1000)
        again = await client.refund(**args, staff_id="s_cas", approval=Approval("s_max", "1357"))
        assert again.refund_id == done.refund_id  # the same key: the backend answered from its store
    rows = staffed.store.fetch_all("SELECT * FROM refunds")
    assert len(rows) == 1
    # the PIN went only inside signed requests, never into the backend's idempotency store
    stored = b"".join(str(tuple(r)).encode() for r in staffed.store.fetch_all("SELECT * FROM idempotency"))
    assert not shows("1357", stored) and not shows("9999", stored)
    assert repr(Approval("s_max", "1357")) == "Approval(staff_id='s_max', pin=<hidden>)"


async def test_v1_has_no_staff(staffed: StaffedBackend) -> None:
    async with make_client(staffed.transport(), Sleeps(), api_version="v1") as client:
        with pytest.raises(UnsupportedError, match="staff need API v2"):
            await client.list_staff()
        with pytest.raises(UnsupportedError):
            await client.verify_staff(staff_id="s_max", pin="1357", purpose="sign-in")

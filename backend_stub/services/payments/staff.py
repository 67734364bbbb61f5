"""payments v2 staff: the roster a till syncs, a manager's PIN checked for the till's step-ups,
and the test mode's way to put a member in the ledger (docs/api.md, "Staff").

A PIN is never stored, logged or echoed: it is checked against the ledger's salted hash
(``backend_stub.store.staff``), and every wrong one counts toward that manager's lockout. The
refund route checks an approval the same way (:func:`refusal` gives both the same answers).
"""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.problems import PROBLEM_RESPONSES, ProblemError
from backend_stub.services.common import Context, iso
from backend_stub.services.wire import SafeText
from backend_stub.store import staff

STAFF_ID = r"^[A-Za-z0-9_.-]{1,64}$"
StaffId = Annotated[str, Field(pattern=STAFF_ID, description="merchant-wide, e.g. s_k3j9x2m4qa")]
Pin = Annotated[str, Field(pattern=r"^[0-9]{4,8}$", description="4 to 8 digits; never stored or logged")]
Role = Literal["cashier", "manager"]
Purpose = Literal["sign-in", "settings", "cancel", "offline"]
# approval refusals: answered, never stored under an Idempotency-Key (the till resends the same
# refund with the same key and a corrected PIN)
APPROVAL_REFUSALS = frozenset({"approval-required", "approval-invalid", "approver-locked"})


class StaffMemberDoc(BaseModel):
    staff_id: str
    name: str
    role: Role
    disabled: bool


class StaffList(BaseModel):
    items: list[StaffMemberDoc]


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    staff_id: StaffId
    pin: Pin
    purpose: Purpose = Field(description="what the till asks the manager's PIN for")


class Verified(BaseModel):
    staff_id: str
    name: str
    role: Role


class Approval(BaseModel):
    """A manager's approval, typed at the till at the moment of the refund."""

    model_config = ConfigDict(extra="forbid", strict=True)
    staff_id: StaffId
    pin: Pin


class TestStaff(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    staff_id: StaffId
    name: SafeText = Field(min_length=1, max_length=staff.MAX_NAME)
    role: Role
    pin: Pin


def refusal(outcome: staff.Outcome, *, now: float) -> ProblemError | None:
    """The problem a PIN's outcome is answered with, ``None`` when it was right."""
    if outcome.result == "ok":
        return None
    if outcome.result == "locked" and outcome.locked_until is not None:
        wait = max(1, math.ceil(outcome.locked_until - now))
        return ProblemError(
            403,
            "approver-locked",
            "This manager is locked out after too many wrong PINs",
            f"try again in {wait} s",
            headers={"Retry-After": str(wait)},
            locked_until=iso(outcome.locked_until),
        )
    return ProblemError(
        403,
        "approval-invalid",
        "Approval refused",
        "the PIN is wrong, or this is not an enabled manager",
    )


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter(responses=PROBLEM_RESPONSES)
    Terminal = Annotated[str, Depends(auth)]

    @r.get("/staff", response_model=StaffList)
    async def list_staff(terminal: Terminal) -> dict[str, Any]:
        """The merchant's staff the backend knows (ids, names, roles; never a PIN or its hash)."""
        members = await run_in_threadpool(staff.list_staff, ctx.store)
        return {
            "items": [
                {"staff_id": m.staff_id, "name": m.name, "role": m.role, "disabled": m.disabled}
                for m in members
            ]
        }

    @r.post("/staff/verify", response_model=Verified)
    async def verify(body: VerifyRequest, terminal: Terminal) -> dict[str, Any]:
        """A manager's PIN for a step-up at the till (sign-in, settings, cancel, offline mode).
        Not idempotent and never stored; a wrong PIN counts toward the manager's lockout."""
        now = ctx.now()
        outcome = await run_in_threadpool(staff.verify, ctx.store, body.staff_id, body.pin, now=now)
        problem = refusal(outcome, now=now)
        if problem is not None:
            raise problem
        assert outcome.member is not None
        return {"staff_id": outcome.member.staff_id, "name": outcome.member.name, "role": outcome.member.role}

    @r.post("/test/staff", status_code=201, response_model=StaffMemberDoc, tags=["test mode"])
    async def add_test_staff(body: TestStaff, terminal: Terminal) -> dict[str, Any]:
        """Test mode: create or replace a member with a PIN (the demo's manager)."""
        if not ctx.settings.test_mode:
            raise ProblemError(404, "not-found", "Not Found", "test-mode endpoints are off")
        try:
            await run_in_threadpool(
                lambda: staff.add_staff(
                    ctx.store,
                    staff_id=body.staff_id,
                    name=body.name,
                    role=body.role,
                    pin=body.pin,
                    now=ctx.now(),
                    replace=True,
                )
            )
        except staff.StaffError as exc:
            raise ProblemError(422, "invalid-staff", "Invalid staff member", str(exc)) from None
        return {"staff_id": body.staff_id, "name": body.name.strip(), "role": body.role, "disabled": False}

    return r

"""The staff desk: signing in, a manager's approval at the moment of an action, wrong PINs and
lockouts, the roster and its sync with the backend. The rules are :mod:`terminal.staff.rules`;
this module does the I/O around them (the journal, the backend client, the PIN hash off the
event loop) and writes the audit trail.

Where a PIN is checked:

* a cashier's against the salted scrypt hash in the till's database, so a cashier signs in
  while the backend is unreachable;
* a manager's only by the backend (``POST /payments/v2/staff/verify``), for sign-in and for
  approvals; a refund's approval travels inside the refund request and is checked there.

Wrong PINs count on the till for everyone (the count and the lockout survive a restart); the
backend keeps its own count for managers, and its ``approver-locked`` answer locks the manager
out here too. A PIN never goes into the journal, the audit trail, a log line or an error message.

Errors::

    StaffError (Exception)          title, message and a next step a cashier can act on
     ├── WrongPinError              the PIN was wrong (``tries_left`` before a lockout)
     ├── LockedOutError             too many wrong PINs: locked for ``seconds``
     └── ManagerOfflineError        a manager's PIN needs the backend, which cannot be reached
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from terminal.domain import pins
from terminal.journal import Journal, StaffExistsError, StaffRecord, UnknownStaffError
from terminal.staff.rules import (
    Attempts,
    Purpose,
    StaffRuleError,
    after_right_pin,
    after_wrong_pin,
    check_name,
    check_pin,
    check_role,
    check_staff_id,
    locked_until_text,
    new_staff_id,
)

if TYPE_CHECKING:
    from terminal.client import BackendClient


class StaffError(Exception):
    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message
        self.hint = hint


class WrongPinError(StaffError):
    def __init__(self, name: str, tries_left: int) -> None:
        super().__init__(
            "Wrong PIN",
            f"that is not {name}'s PIN",
            f"{tries_left} {'try' if tries_left == 1 else 'tries'} left before a lockout",
        )
        self.tries_left = tries_left


class LockedOutError(StaffError):
    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(
            "Locked out",
            f"{name} entered too many wrong PINs",
            f"try again in {locked_until_text(seconds)}, or ask a manager",
        )
        self.seconds = seconds


class ManagerOfflineError(StaffError):
    pass


ClientGetter = Callable[[], Awaitable["BackendClient"]]


class StaffDesk:
    """Staff at one till. ``client``: how to get the backend client when a manager's PIN must
    be checked (None: no backend, e.g. offline administration)."""

    def __init__(
        self, journal: Journal, *, client: ClientGetter | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.journal = journal
        self._client = client
        self.clock = clock

    # -- who is at the till ---------------------------------------------------------------------

    @property
    def signed_in(self) -> StaffRecord | None:
        staff_id = self.journal.acting_staff
        return None if staff_id is None else self.journal.staff_member(staff_id)

    def roster(self) -> list[StaffRecord]:
        """Who may sign in: enabled members (a cashier needs a PIN on this till)."""
        return [m for m in self.journal.staff(include_disabled=False) if m.role == "manager" or m.has_pin]

    def managers(self) -> list[StaffRecord]:
        return [m for m in self.journal.staff(include_disabled=False) if m.role == "manager"]

    def member(self, staff_id: str) -> StaffRecord:
        found = self.journal.staff_member(staff_id)
        if found is None:
            raise StaffError(
                "Not on this till",
                f"no staff member {staff_id} here",
                "`cryptopos staff list` shows who is; `cryptopos staff sync` fetches managers",
            )
        return found

    async def sign_in(self, staff_id: str, pin: str) -> StaffRecord:
        """Sign ``staff_id`` in with ``pin``: checked here for a cashier, by the backend for a
        manager. A wrong PIN counts toward a lockout."""
        member = self._may_try(staff_id, pin)
        if member.role == "cashier":
            stored = self.journal.pin_hash(staff_id)
            if stored is None:
                raise StaffError(
                    "No PIN set",
                    f"{member.name} has no PIN on this till",
                    f"a manager sets one: cryptopos staff reset-pin {staff_id}",
                )
            try:
                right = await asyncio.to_thread(pins.verify_pin, pin, stored)
            except pins.PinHashError as exc:
                raise StaffError(
                    "PIN not readable", str(exc), f"cryptopos staff reset-pin {staff_id}"
                ) from None
            if not right:
                raise self._wrong(member, "sign-in")
        else:
            await self._backend_verify(member, pin, "sign-in")
        self._right(member)
        self.journal.acting_staff = staff_id
        self.journal.audit("signed_in", staff_id=staff_id, detail=member.role)
        return self.member(staff_id)

    def sign_out(self, why: str) -> None:
        """Nobody is signed in any more: ``why`` is ``switch user``, ``idle 900 s``, ``quit``..."""
        who = self.journal.acting_staff
        if who is None:
            return
        self.journal.audit(
            "till_locked" if why.startswith("idle") else "signed_out", staff_id=who, detail=why
        )
        self.journal.acting_staff = None

    # -- a manager's approval -------------------------------------------------------------------

    async def approve(self, staff_id: str, pin: str, purpose: Purpose, *, subject: str) -> StaffRecord:
        """A manager's PIN at the moment of an action (``purpose``: settings, cancel, offline),
        checked by the backend; audited as an approval of ``subject`` for whoever is signed in."""
        member = self._may_try(staff_id, pin)
        if member.role != "manager":
            raise StaffError("Not a manager", f"{member.name} is a {member.role}", "a manager approves this")
        try:
            await self._backend_verify(member, pin, purpose, subject=subject)
        except StaffError as exc:
            self.journal.audit(
                "approval_refused",
                staff_id=self.journal.acting_staff,
                approver_id=staff_id,
                subject=subject,
                detail=f"{purpose}: {exc.title}",
            )
            raise
        self._right(member)
        self.journal.audit(
            "approved",
            staff_id=self.journal.acting_staff,
            approver_id=staff_id,
            subject=subject,
            detail=purpose,
        )
        return member

    def check_approver(self, staff_id: str) -> None:
        """Before a PIN is sent inside a refund: refused here when this till knows the person is
        not a manager, is disabled or is locked out (an id it does not know goes to the backend,
        whose roster may be newer)."""
        member = self.journal.staff_member(staff_id)
        if member is None:
            return
        if member.disabled:
            raise StaffError(
                "Disabled", f"{member.name} is disabled on this till", "another manager approves"
            )
        if member.role != "manager":
            raise StaffError(
                "Not a manager", f"{member.name} is a {member.role}", "a manager approves refunds"
            )
        left = Attempts(member.failed_pins, member.locked_until).locked_for(self.clock())
        if left:
            raise LockedOutError(member.name, left)

    def refund_approved(self, approver_id: str, *, subject: str) -> None:
        """The backend accepted a manager's approval inside a refund."""
        member = self.journal.staff_member(approver_id)
        if member is not None:
            self._right(member)
        self.journal.audit(
            "approved",
            staff_id=self.journal.acting_staff,
            approver_id=approver_id,
            subject=subject,
            detail="refund",
        )

    def refund_approval_refused(
        self, approver_id: str, problem_type: str, retry_after_s: float | None, *, subject: str
    ) -> StaffError:
        """The backend refused a refund's approval: count a wrong PIN (or take over its lockout),
        audit it, and say what to do."""
        self.journal.audit(
            "approval_refused",
            staff_id=self.journal.acting_staff,
            approver_id=approver_id,
            subject=subject,
            detail=f"refund: {problem_type}",
        )
        member = self.journal.staff_member(approver_id)
        name = member.name if member is not None else approver_id
        if problem_type == "approver-locked":
            return self._backend_lockout(member, name, retry_after_s)
        if problem_type == "approval-required":
            return StaffError("Approval needed", "the backend needs a manager's PIN for this refund", "")
        if member is None:
            return StaffError(
                "Approval refused",
                f"the backend does not accept {approver_id} as an approving manager with that PIN",
                "check the manager and the PIN",
            )
        return self._wrong(member, "refund approval")

    # -- the roster (cryptopos staff ...) -------------------------------------------------------

    def add_cashier(self, name: str, pin: str, *, staff_id: str | None = None) -> StaffRecord:
        name = check_name(name)
        check_pin(pin)
        staff_id = check_staff_id(staff_id) if staff_id else new_staff_id(secrets.token_bytes(7))
        try:
            return self.journal.add_staff(
                staff_id=staff_id, name=name, role="cashier", pin_hash=pins.hash_pin(pin), origin="till"
            )
        except StaffExistsError as exc:
            raise StaffError("Already on this till", str(exc), "pick another --id") from None

    def set_disabled(self, staff_id: str, disabled: bool) -> StaffRecord:
        try:
            return self.journal.set_disabled(staff_id, disabled)
        except UnknownStaffError as exc:
            raise StaffError("Not on this till", str(exc), "`cryptopos staff list` shows who is") from None

    def cashier(self, staff_id: str) -> StaffRecord:
        """``staff_id``, a cashier: only a cashier's PIN is kept on the till."""
        member = self.member(staff_id)
        if member.role != "cashier":
            raise StaffError(
                "A manager's PIN is not kept here",
                f"{member.name} is a manager: their PIN lives only on the backend",
                f"cryptopos backend staff reset-pin {staff_id}",
            )
        return member

    def reset_pin(self, staff_id: str, pin: str) -> StaffRecord:
        self.cashier(staff_id)
        check_pin(pin)
        return self.journal.set_pin_hash(staff_id, pins.hash_pin(pin))

    async def sync(self, client: BackendClient) -> dict[str, list[str]]:
        """Learn the backend's roster (never a hash); see :meth:`Journal.sync_roster`."""
        members = await client.list_staff()
        good: list[tuple[str, str, str, bool]] = []
        skipped = []
        for m in members:
            try:
                good.append((check_staff_id(m.staff_id), check_name(m.name), check_role(m.role), m.disabled))
            except StaffRuleError:
                skipped.append(m.staff_id[:64])
        report = self.journal.sync_roster(good)
        report["skipped"] = skipped
        return report

    # -- wrong PINs and lockouts ----------------------------------------------------------------

    def _may_try(self, staff_id: str, pin: str) -> StaffRecord:
        member = self.member(staff_id)
        if member.disabled:
            raise StaffError(
                "Disabled", f"{member.name} is disabled on this till", "a manager can enable them"
            )
        left = Attempts(member.failed_pins, member.locked_until).locked_for(self.clock())
        if left:
            raise LockedOutError(member.name, left)
        try:
            check_pin(pin)
        except StaffRuleError as exc:
            # not a PIN at all: a typo, not a guess, so it does not count
            raise StaffError("Not a PIN", str(exc)) from None
        return member

    def _wrong(self, member: StaffRecord, what: str) -> StaffError:
        """Count a wrong PIN; the error to raise (a lockout when this one locks)."""
        attempts = after_wrong_pin(Attempts(member.failed_pins, member.locked_until), self.clock())
        self.journal.set_attempts(member.staff_id, attempts.failures, attempts.locked_until)
        self.journal.audit(
            "pin_failed", staff_id=member.staff_id, detail=f"{what}; {attempts.failures} wrong in a row"
        )
        seconds = attempts.locked_for(self.clock())
        if seconds:
            self.journal.audit(
                "locked_out",
                staff_id=member.staff_id,
                detail=f"for {locked_until_text(seconds)} after {attempts.failures} wrong PINs",
            )
            return LockedOutError(member.name, seconds)
        return WrongPinError(member.name, attempts.tries_left)

    def _right(self, member: StaffRecord) -> None:
        if member.failed_pins or member.locked_until is not None:
            fresh = after_right_pin()
            self.journal.set_attempts(member.staff_id, fresh.failures, fresh.locked_until)

    def _backend_lockout(
        self, member: StaffRecord | None, name: str, retry_after_s: float | None
    ) -> StaffError:
        seconds = retry_after_s if retry_after_s is not None and retry_after_s > 0 else 30.0
        if member is not None:
            until = self.clock() + seconds
            self.journal.set_attempts(member.staff_id, max(member.failed_pins, 5), until)
            self.journal.audit(
                "locked_out",
                staff_id=member.staff_id,
                detail=f"by the backend for {locked_until_text(seconds)}",
            )
        return LockedOutError(name, seconds)

    async def _backend_verify(
        self, member: StaffRecord, pin: str, purpose: Purpose, *, subject: str = ""
    ) -> None:
        from terminal.client import ApprovalRefusedError, BackendError, BackendUnavailableError

        if self._client is None:
            raise ManagerOfflineError(
                "Backend needed",
                "a manager's PIN is checked by the backend",
                "run this where the backend is reachable",
            )
        try:
            client = await self._client()
            await client.verify_staff(staff_id=member.staff_id, pin=pin, purpose=purpose)
        except ApprovalRefusedError as exc:
            if exc.type == "approver-locked":
                raise self._backend_lockout(member, member.name, exc.retry_after_s) from None
            raise self._wrong(member, purpose) from None
        except BackendUnavailableError:
            raise ManagerOfflineError(
                "Backend unreachable",
                f"{member.name} is a manager: their PIN is checked by the backend, which cannot be reached",
                "a cashier can sign in while offline; try again when the backend is back",
            ) from None
        except BackendError as exc:
            raise StaffError(exc.title, exc.message, "the PIN was not checked; try again") from None

"""Staff at the till: signing in and out, the idle lock, a manager's approval at the moment of
a hand-cancel or a settings change, the roster's sync on connect. The rules and the checks are
:mod:`terminal.staff`; this part turns them into the register's intents and updates."""

from __future__ import annotations

import json

from terminal.client import BackendError, UnsupportedError
from terminal.config import LoadedSettings
from terminal.domain import session as s
from terminal.journal import SaleFinalError, StaffRecord
from terminal.sale import offline_policy
from terminal.staff import tillsettings
from terminal.staff.desk import StaffError
from terminal.staff.rules import Purpose
from terminal.tui.till.sale import SaleSteps
from terminal.tui.updates import PinRefusedError, RegisterError, RosterChanged, StaffUpdated, StaffView


def view_of(member: StaffRecord) -> StaffView:
    return StaffView(member.staff_id, member.name, member.role)


def refused(exc: StaffError) -> PinRefusedError:
    return PinRefusedError(exc.title, exc.message, exc.hint)


class StaffSteps(SaleSteps):
    # -- queries the screens make ---------------------------------------------------------------

    @property
    def signed_in(self) -> StaffView | None:
        member = self.staff.signed_in
        return None if member is None else view_of(member)

    def staff_roster(self) -> list[StaffView]:
        return [view_of(m) for m in self.staff.roster()]

    def managers(self) -> list[StaffView]:
        return [view_of(m) for m in self.staff.managers()]

    # -- signing in and out, the idle lock ---------------------------------------------------

    async def sign_in(self, staff_id: str, pin: str) -> StaffView:
        before = self.journal.acting_staff
        if before is not None:
            self.staff.sign_out("switch user")
        try:
            member = await self.staff.sign_in(staff_id, pin)
        except StaffError as exc:
            raise refused(exc) from None
        self.idle.touch()
        view = view_of(member)
        self._emit(StaffUpdated(view))
        return view

    def lock(self, why: str) -> None:
        """Nobody is signed in any more; the host shows the sign-in screen."""
        self.staff.sign_out(why)
        self._emit(StaffUpdated(None, why))

    def touch(self) -> None:
        """A key was pressed: the idle lock starts counting again."""
        self.idle.touch()

    def idle_due(self) -> bool:
        """Time to lock: someone is signed in, no sale is under way, and nobody pressed a key
        for ``[staff] idle_lock_s``."""
        busy = self.session.state not in (s.State.IDLE, s.State.UNKNOWN_OUTCOME, *s.FINAL_STATES)
        return self.journal.acting_staff is not None and not busy and self.idle.expired()

    # -- a manager's approval at the moment -----------------------------------------------------

    async def approve(self, purpose: Purpose, staff_id: str, pin: str, *, subject: str) -> StaffView:
        try:
            return view_of(await self.staff.approve(staff_id, pin, purpose, subject=subject))
        except StaffError as exc:
            raise refused(exc) from None

    async def cancel_by_hand(self, staff_id: str, pin: str) -> None:
        """Give up on a sale whose outcome is unknown, with a manager's approval: it is journaled
        cancelled (with who approved it) and the till stops asking the backend about it."""
        reference = self.core.reference
        if self.session.state is not s.State.UNKNOWN_OUTCOME or reference is None:
            raise RegisterError(
                "Nothing to cancel", "only a sale whose outcome is unknown is cancelled by hand"
            )
        await self.approve("cancel", staff_id, pin, subject=f"sale {reference}")
        async with self._lock:
            try:
                self.journal.update(
                    reference,
                    "cancelled",
                    detail=f"cancelled by hand with its outcome unknown; approved by {staff_id}",
                )
            except SaleFinalError:
                record = self.journal.get(reference)
                self._notice(
                    "Sale already settled",
                    f"the backend answered first: it is {record.state if record else 'gone'}",
                    "nothing was cancelled; see History",
                    "information",
                )
            self.core.reset()
            self._deadline = None
        self.reset()
        self._set_backend(queued=self._queued())

    # -- settings changed on the till ---------------------------------------------------------------

    def check_setting(self, key: str, text: str) -> str:
        """Whether ``text`` is a value ``key`` can take (before a manager is asked); as shown."""
        try:
            value, _ = tillsettings.read_value(self.loaded, key, text)
        except tillsettings.SettingValueError as exc:
            raise RegisterError("Not a value for this setting", str(exc), "type it again") from None
        return tillsettings.shown(value)

    async def change_setting(self, key: str, text: str, staff_id: str, pin: str) -> None:
        value, _ = tillsettings.read_value(self.loaded, key, self.check_setting(key, text))
        purpose = tillsettings.EDITABLE[key].purpose
        was = tillsettings.shown(tillsettings.current(self.loaded, key))
        await self.approve(purpose, staff_id, pin, subject=key)
        self.journal.set_till_setting(
            key, json.dumps(value), approved_by=staff_id, shown=tillsettings.shown(value), was=was
        )
        source = tillsettings.source_label(staff_id, self.clock())
        self.use_settings(tillsettings.changed(self.loaded, {key: value}, {key: source}))

    def use_settings(self, loaded: LoadedSettings) -> None:
        """Run with ``loaded`` from now on (the offline policy and the idle lock follow it)."""
        self.loaded = loaded
        self.settings = loaded.settings
        self.core.offline = offline_policy(loaded.settings)
        self.idle.limit_s = loaded.settings.staff.idle_lock_s

    # -- the roster --------------------------------------------------------------------------------

    async def sync_staff(self) -> None:
        """Learn the backend's roster (on connect); a backend without one is said once, calmly."""
        try:
            await self.staff.sync(self.client)
        except UnsupportedError as exc:
            self._notice(
                "No staff list", exc.message, "managers cannot sign in with this backend", "information"
            )
            return
        except BackendError as exc:
            self._notice("Staff list not updated", exc.message, "the till uses the list it has", "warning")
            return
        self._emit(RosterChanged())

"""The backend link the status bar shows: what the backend serves (discovery), the API version
the client speaks, retiring versions and rollout notices, online or offline, the queued count."""

from __future__ import annotations

from typing import Any

from terminal.client import BackendError
from terminal.tui.till.base import TillBase
from terminal.tui.updates import BackendStatus


class BackendLink(TillBase):
    async def connect(self) -> BackendStatus:
        """Ask the backend what it serves; the answer drives the status bar. The host asks again
        on an interval and whenever :attr:`link_came_back`, so a rollout's notice follows it."""
        self.link_came_back = False
        try:
            await self.ensure_client()
            # the version the client negotiated (or was pinned to) is the one it speaks
            version = (await self.client.adapter()).version
            doc = await self.client.discover()
            if self.setup is not None:
                setup, self.setup = self.setup, None
                try:
                    await setup()
                except Exception as exc:  # the demo's extras must not keep the till offline
                    self._notice("Demo not fully set up", str(exc), "the other demo keys work")
            await self.sync_staff()
        except BackendError as exc:
            self._set_backend(connected=False, detail=exc.message, queued=self._queued())
            return self.backend
        services = doc.get("services", {}) if isinstance(doc, dict) else {}
        raw_notices = doc.get("notices", []) if isinstance(doc, dict) else []
        notices = [
            str(n.get("text") or n.get("message") or n) if isinstance(n, dict) else str(n)
            for n in (raw_notices if isinstance(raw_notices, list) else [])
        ]
        notices += self._deprecations(services, version)
        self._set_backend(
            connected=True, api_version=version, notices=tuple(notices), detail="", queued=self._queued()
        )
        return self.backend

    @staticmethod
    def _deprecations(services: Any, version: str) -> list[str]:
        """'payments v1 deprecated, sunset 2027-06-30' for each service whose version we use is retiring."""
        out: list[tuple[str, str]] = []
        for name in ("rates", "payments"):
            versions = services.get(name, {}).get("versions", []) if isinstance(services, dict) else []
            for v in versions:
                if isinstance(v, dict) and v.get("version") == version and v.get("status") == "deprecated":
                    sunset = str(v.get("sunset", ""))[:10]
                    out.append((name, f" {version} deprecated" + (f", sunset {sunset}" if sunset else "")))
        if len(out) > 1 and len({text for _, text in out}) == 1:
            return [f"API{out[0][1]}"]  # both services retire it together: say it once
        return [name + text for name, text in out]

    async def sync_staff(self) -> None:
        """Learn the backend's staff roster (:class:`~terminal.tui.till.staff.StaffSteps`)."""

    def _mark_offline(self, detail: str) -> None:
        # Not a reason to ask discovery: the backend has just failed, so the question would fail
        # too (leaving the notices as they were) and only add a failure to the client's circuit
        # breaker, which then opens (5 in a row: a quote's 4 attempts and this one) and refuses
        # the cashier's next try for reset_s even once the backend is back.
        self._set_backend(connected=False, detail=detail, queued=self._queued())

    def _mark_online(self) -> None:
        if self.backend.connected is not True:
            self.link_came_back = True  # what it serves may have changed while it was away
            self._set_backend(connected=True, detail="", queued=self._queued())

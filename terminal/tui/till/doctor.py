"""The settings screen's data: the effective configuration, and the doctor's checks of every
part of the till (backend, journal, readers, the queue)."""

from __future__ import annotations

import asyncio

from drivers.registry import probe_device
from terminal.config import effective_rows
from terminal.tui.till.link import BackendLink
from terminal.tui.updates import Check


class Doctor(BackendLink):
    def settings_rows(self) -> list[tuple[str, str, str]]:
        return effective_rows(self.loaded)

    async def doctor(self) -> list[Check]:
        """What the settings screen shows: is every part of the till usable."""
        checks: list[Check] = []
        status = await self.connect()
        checks.append(
            Check(
                "backend",
                bool(status.connected),
                f"{status.url}: API {status.api_version}"
                if status.connected
                else f"unreachable: {status.detail}",
            )
        )
        try:
            checks.append(
                Check("journal", True, f"{self.journal.path} (schema v{self.journal.schema_version})")
            )
        except Exception as exc:
            checks.append(Check("journal", False, f"{type(exc).__name__}: {exc}"))
        devices = list(self.settings.terminal.readers)
        # opening a device may take a moment (and import nfcpy or OpenCV): not on the screen's loop
        probes = await asyncio.to_thread(lambda: [probe_device(d) for d in devices])
        for probe in probes:
            detail = probe.detail if probe.ok or not probe.hint else f"{probe.detail} → {probe.hint}"
            checks.append(Check(f"reader {probe.device}", probe.ok, detail))
        checks.append(
            Check("queued sales", self._queued() == 0, f"{self._queued()} unknown or stored offline")
        )
        return checks

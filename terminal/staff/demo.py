"""The demo's staff (``make demo``, ``cryptopos tui --demo``, ``cryptopos demo``): a cashier on
the till and a manager on the embedded backend, with PINs drawn fresh for each run and printed
(and shown under the demo's sign-in screen). The manager is created through the emulator's
test-mode endpoint ``POST /payments/v2/test/staff``, which a production backend does not have;
there, managers are made with ``cryptopos backend staff add``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from terminal.client import BackendClient
    from terminal.journal import Journal

TEST_STAFF_PATH = "/payments/v2/test/staff"


class DemoStaffError(Exception):
    """The embedded backend did not take the demo manager; the message says what it answered."""


def _pin() -> str:
    return f"{secrets.randbelow(10_000):04d}"


@dataclass(frozen=True, slots=True)
class DemoStaff:
    cashier_pin: str = field(default_factory=_pin, repr=False)
    manager_pin: str = field(default_factory=_pin, repr=False)
    cashier_id: str = "s_demo_cashier"
    cashier_name: str = "Cass Demo"
    manager_id: str = "s_demo_manager"
    manager_name: str = "Max Demo"

    def hint(self) -> str:
        return (
            f"demo: {self.cashier_name} (cashier) PIN {self.cashier_pin} · "
            f"{self.manager_name} (manager) PIN {self.manager_pin}"
        )

    def add_cashier(self, journal: Journal) -> None:
        """The demo cashier on this till (a fresh journal: the demo's is temporary)."""
        from terminal.staff.desk import StaffDesk

        if journal.staff_member(self.cashier_id) is None:
            StaffDesk(journal).add_cashier(self.cashier_name, self.cashier_pin, staff_id=self.cashier_id)

    async def add_manager(self, client: BackendClient) -> None:
        """The demo manager on the (embedded) backend, through its test-mode endpoint."""
        from terminal.client import BackendError

        body = {
            "staff_id": self.manager_id,
            "name": self.manager_name,
            "role": "manager",
            "pin": self.manager_pin,
        }
        try:
            await client.request_json("POST", TEST_STAFF_PATH, body)
        except BackendError as exc:
            raise DemoStaffError(f"the backend did not take the demo manager: {exc.title}") from exc

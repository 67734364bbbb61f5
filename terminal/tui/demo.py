"""What ``make demo`` adds to the till: the demo Bolt Card, issued to the embedded backend, and
the demo manager (:mod:`terminal.staff.demo`).

The backend verifies Bolt Card taps (SUN) against the keys of the cards it has issued, so the
demo issues the drivers' demo card (the boltcard project's published test-vector keys) through
the emulator's test-mode endpoint ``POST /payments/v2/test/cards`` when the till connects. Each
``b`` key press is then a fresh tap of that card (its counter counts up, as a real card's does),
delivered by a simulated NFC reader.

The issuing request is signed like any terminal request, by the backend client's own plumbing
(``BackendClient.request_json``); the client has no card-issuing call of its own (a production
till never issues cards).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drivers.boltcard import BoltCard
    from terminal.client import BackendClient
    from terminal.staff.demo import DemoStaff

TEST_CARDS_PATH = "/payments/v2/test/cards"


class DemoSetupError(Exception):
    """The embedded backend refused the demo card; the message says what it answered."""


def demo_card() -> BoltCard:
    from drivers.boltcard import BoltCard
    from drivers.sim import DEMO_BOLTCARD

    return BoltCard(
        uid=bytes.fromhex(DEMO_BOLTCARD["uid"]),
        k1=bytes.fromhex(DEMO_BOLTCARD["k1"]),
        k2=bytes.fromhex(DEMO_BOLTCARD["k2"]),
        base=DEMO_BOLTCARD["base"],
    )


async def issue_card(client: BackendClient, card: BoltCard) -> None:
    """Issue ``card`` through the client's signed request plumbing (the terminal's key)."""
    from terminal.client import BackendError

    body = {"uid": card.uid.hex().upper(), "k1": card.k1.hex(), "k2": card.k2.hex()}
    try:
        await client.request_json("POST", TEST_CARDS_PATH, body)
    except BackendError as exc:
        raise DemoSetupError(f"the backend did not issue the demo card: {exc.title}: {exc.message}") from exc


def demo_setup(
    client: Callable[[], BackendClient], card: BoltCard, staff: DemoStaff
) -> Callable[[], Awaitable[None]]:
    """The register's one-time setup for the demo: issue ``card`` and create the demo manager
    on the embedded backend. What failed is said in one :class:`DemoSetupError`; the rest is set
    up all the same."""
    from terminal.staff.demo import DemoStaffError

    async def setup() -> None:
        problems = []
        try:
            await issue_card(client(), card)
        except DemoSetupError as exc:
            problems.append(f"{exc} (the b key's Bolt Card will be declined)")
        try:
            await staff.add_manager(client())
        except DemoStaffError as exc:
            problems.append(f"{exc} (the demo manager cannot sign in or approve)")
        if problems:
            raise DemoSetupError("; ".join(problems))

    return setup

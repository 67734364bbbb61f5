"""What ``make demo`` adds to the till: the demo Bolt Card, issued to the embedded backend.

The backend verifies Bolt Card taps (SUN) against the keys of the cards it has issued, so the
demo issues the drivers' demo card (the boltcard project's published test-vector keys) through
the emulator's test-mode endpoint ``POST /payments/v2/test/cards`` when the till connects. Each
``b`` key press is then a fresh tap of that card (its counter counts up, as a real card's does),
delivered by a simulated NFC reader.

The issuing request is signed like any terminal request; it goes through the embedded backend's
transport with its own short-lived httpx client because the backend client has no test-mode
calls (and should not: a production till never issues cards).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from drivers.boltcard import BoltCard
    from terminal.config import Settings

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


async def issue_card(
    transport: httpx.AsyncBaseTransport,
    card: BoltCard,
    *,
    settings: Settings,
    clock: Callable[[], float] = time.time,
) -> None:
    import httpx

    from terminal.domain import signing

    body = json.dumps({"uid": card.uid.hex().upper(), "k1": card.k1.hex(), "k2": card.k2.hex()}).encode()
    headers = signing.signature_headers(
        key_id=settings.signing.key_id,
        secret=settings.signing.secret.get_secret_value().encode(),
        method="POST",
        path=TEST_CARDS_PATH,
        timestamp=int(clock()),
        nonce=secrets.token_hex(12),
        body=body,
    )
    async with httpx.AsyncClient(base_url="http://embedded.invalid", transport=transport) as http:
        resp = await http.post(
            TEST_CARDS_PATH, content=body, headers={**headers, "Content-Type": "application/json"}
        )
    if resp.status_code != 201:
        detail = (
            resp.json().get("detail", "") if resp.headers.get("content-type", "").endswith("json") else ""
        )
        raise DemoSetupError(f"the backend did not issue the demo card: HTTP {resp.status_code} {detail}")


def card_setup(
    transport: Callable[[], httpx.AsyncBaseTransport | None],
    card: BoltCard,
    *,
    settings: Settings,
    clock: Callable[[], float] = time.time,
) -> Callable[[], Awaitable[None]]:
    """The register's one-time setup for the demo: issue ``card`` to the embedded backend."""

    async def setup() -> None:
        t = transport()
        if t is not None:
            await issue_card(t, card, settings=settings, clock=clock)

    return setup

"""A till's heartbeat on the wire (payments v2): signed like every request, strict about its body,
kept in the ledger per terminal key (the last one wins), through the app and through the
embedded backend's gateway."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from backend_stub.embedded import make_transport
from backend_stub.store import Store, health
from terminal.domain import signing

from .conftest import KEY_ID, OTHER_KEY_ID, OTHER_SECRET, Api, FakeClock, problem_type

PATH = "/payments/v2/terminals/heartbeat"
BEAT = {
    "version": "1.4.0",
    "readers": [{"device": "nfc:usb", "state": "ready"}, {"device": "camera:0", "state": "disconnected"}],
    "queue_depth": 2,
    "unknown_outcomes": 1,
    "last_reconcile_at": "2026-11-26T11:59:00Z",
}


async def test_a_heartbeat_is_kept_per_terminal_and_the_last_one_wins(
    api: Api, store: Store, clock: FakeClock
) -> None:
    r = await api.post(PATH, BEAT)
    assert r.status_code == 202, r.text
    assert r.json() == {"key_id": KEY_ID, "seen_at": "2026-11-26T12:00:00.000Z"}
    other = Api(api.http, clock, key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    first = {k: v for k, v in BEAT.items() if k != "last_reconcile_at"}  # none yet: left out
    assert (await other.post(PATH, {**first, "readers": []})).status_code == 202
    clock.advance(60)
    assert (await api.post(PATH, {**BEAT, "version": "1.5.0", "queue_depth": 0})).status_code == 202
    fleet = {t.key_id: t for t in health.fleet(store)}
    assert set(fleet) == {KEY_ID, OTHER_KEY_ID}
    mine = fleet[KEY_ID]
    assert (mine.version, mine.queue_depth, mine.unknown_outcomes) == ("1.5.0", 0, 1)
    assert mine.seen_at == clock() and mine.last_reconcile_at == clock() - 60 - 60
    assert [(x.device, x.state) for x in mine.readers] == [("nfc:usb", "ready"), ("camera:0", "disconnected")]
    assert fleet[OTHER_KEY_ID].readers == () and fleet[OTHER_KEY_ID].last_reconcile_at is None


async def test_a_heartbeat_is_refused_unless_exactly_right(api: Api, store: Store) -> None:
    bad: list[dict[str, Any]] = [
        {**BEAT, "queue_depth": True},
        {**BEAT, "queue_depth": 1.0},
        {**BEAT, "queue_depth": "2"},
        {**BEAT, "unknown_outcomes": -1},
        {**BEAT, "queue_depth": 1_000_001},
        {**BEAT, "version": ""},
        {**BEAT, "version": "1.4\u202e"},
        {**BEAT, "readers": [{"device": "nfc:usb"}]},
        {**BEAT, "readers": [{"device": "nfc:usb", "state": "lost"}]},  # not a state a till sends
        {**BEAT, "readers": [{"device": "nfc:usb", "state": "Ready"}]},
        {**BEAT, "readers": [{"device": "nfc:usb", "state": "ready"}] * 17},
        {**BEAT, "last_reconcile_at": "yesterday"},
        {**BEAT, "last_reconcile_at": None},
        {**BEAT, "last_reconcile_at": "2026-11-26"},
        {**BEAT, "extra": 1},
        {k: v for k, v in BEAT.items() if k != "version"},
    ]
    for body in bad:
        r = await api.post(PATH, body)
        assert r.status_code == 422, (body, r.text)
        assert problem_type(r) in ("validation", "invalid-parameter", "invalid-characters"), r.text
    unsigned = await api.post(PATH, BEAT, sign=False)
    assert unsigned.status_code == 401, unsigned.text
    assert health.fleet(store) == []


async def test_the_embedded_backend_takes_a_heartbeat_through_its_gateway() -> None:
    key_id, secret = "t_demo_01", b"demo-secret-do-not-use-in-production"
    transport = make_transport(key_id=key_id, secret=secret)
    content = json.dumps(BEAT).encode()
    headers = signing.signature_headers(
        key_id=key_id,
        secret=secret,
        method="POST",
        path=PATH,
        timestamp=int(time.time()),
        nonce=secrets.token_hex(8),
        body=content,
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as http:
        r = await http.post(PATH, content=content, headers={**headers, "Content-Type": "application/json"})
    await transport.aclose()
    assert r.status_code == 202 and r.json()["key_id"] == key_id, r.text


def test_the_reader_states_the_backend_takes_are_those_the_till_sends() -> None:
    """The till sends its drivers' states, ``error`` and ``idle`` (terminal/tui/till); a state
    added to the drivers must be added to the API too, or the till's heartbeat is refused."""
    from backend_stub.services.payments.health import READER_STATES
    from drivers.events import ReaderState

    assert {s.value for s in ReaderState} | {"error", "idle"} == READER_STATES

"""What the drivers produce, checked by the payload layer (terminal.domain.payloads).

The Bolt Card simulator's SUN URLs must verify with ``verify_sun`` (card side written in drivers,
server side in the payload layer, each from the spec), through every path a tap can take: the pure
card model, the simulated reader, and the udp emulator behind the real nfcpy reader. A wallet phone
hands over a signed ``CPT1:`` token that ``verify_token`` accepts.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers import open_reader
from drivers.boltcard import BoltCard
from drivers.events import TagRead
from drivers.nfc import cards
from drivers.nfc.emulator import Tap
from drivers.sim import DEMO_BOLTCARD
from terminal.domain.payloads import PayloadError, parse_payload, verify_sun, verify_token
from tests.drivers.helpers import Events

K1 = bytes.fromhex(DEMO_BOLTCARD["k1"])
K2 = bytes.fromhex(DEMO_BOLTCARD["k2"])
UID = bytes.fromhex(DEMO_BOLTCARD["uid"])


def pc(url: str) -> tuple[str, str]:
    q = parse_qs(urlsplit(url).query)
    return q["p"][0], q["c"][0]


def test_simulator_urls_verify_with_the_payload_layer_and_count_up() -> None:
    card = BoltCard(uid=UID, k1=K1, k2=K2, counter=100)
    for expected in (101, 102, 103):
        url = card.tap()
        assert parse_payload(url).kind == "boltcard"
        result = verify_sun(*pc(url), k1=K1, k2=K2)
        assert (result.uid, result.counter) == (UID, expected)


def test_wrong_keys_and_tampering_are_rejected_by_the_payload_layer() -> None:
    card = BoltCard(uid=UID, k1=K1, k2=K2)
    forged = card.with_wrong_keys().tap()
    with pytest.raises(PayloadError) as info:
        verify_sun(*pc(forged), k1=K1, k2=K2)
    assert info.value.code in ("bad_sun_header", "bad_cmac")
    p, c = pc(card.tap())
    tampered_c = ("0" if c[0] != "0" else "1") + c[1:]
    with pytest.raises(PayloadError, match="bad_cmac"):
        verify_sun(p, tampered_c, k1=K1, k2=K2)


def test_a_replay_verifies_but_carries_an_old_counter() -> None:
    """A replay is cryptographically valid: only the counter shows it (the backend refuses it)."""
    card = BoltCard(uid=UID, k1=K1, k2=K2)
    first = verify_sun(*pc(card.tap()), k1=K1, k2=K2).counter
    second = verify_sun(*pc(card.tap()), k1=K1, k2=K2).counter
    again = verify_sun(*pc(card.replay(0)), k1=K1, k2=K2).counter
    assert second > first == again


def test_sim_reader_taps_verify() -> None:
    events = Events()
    reader = open_reader("sim:nfc?card=boltcard&count=3&delay=0")
    reader.start(events)
    try:
        taps = events.wait_for(TagRead, 3, timeout=5)
    finally:
        reader.stop()
    assert [verify_sun(*pc(t.payload), k1=K1, k2=K2).counter for t in taps] == [1, 2, 3]


def test_udp_bolt_card_through_nfcpy_verifies(emulator: Any, udp_port: int) -> None:
    card = BoltCard(uid=UID, k1=K1, k2=K2, counter=7)
    emulator("isodep", [Tap(card=cards.bolt_card_tag(card))], uid=UID)
    events = Events()
    reader = open_reader(f"nfc:udp:localhost:{udp_port}?targets=106A")
    reader.start(events)
    try:
        (tag,) = events.wait_for(TagRead, timeout=8)
    finally:
        reader.stop()
    result = verify_sun(*pc(tag.payload), k1=K1, k2=K2)
    assert (result.uid.hex().upper(), result.counter) == (tag.uid, 8)


def test_wallet_phone_hands_over_a_token_that_verifies(emulator: Any, udp_port: int) -> None:
    from terminal.domain.payloads import sign_token

    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    token = sign_token(
        private_key=key,
        key_id="w1",
        wallet_id="alice",
        asset="BTC-LN",
        nonce=bytes(range(16)),
        expires_at=now + 60,
    )
    emulator("isodep", [Tap(card=cards.wallet_phone(token))], uid=bytes.fromhex("08C0FFEE"), sel_res=0x60)
    events = Events()
    reader = open_reader(f"nfc:udp:localhost:{udp_port}?targets=106A")
    reader.start(events)
    try:
        (tag,) = events.wait_for(TagRead, timeout=8)
    finally:
        reader.stop()
    assert tag.payload == token
    verified = verify_token(tag.payload, public_keys={"w1": key.public_key()}, now=now)
    assert verified.wallet_id == "alice"


@pytest.mark.parametrize(
    ("shape", "kind"),
    [("bip21", "bitcoin"), ("bolt11", "bolt11"), ("lnurl", "lnurl"), ("eip681", "ethereum")],
)
def test_synthetic_camera_payloads_are_valid_payments(shape: str, kind: str) -> None:
    from drivers.camera import synth

    assert parse_payload(synth.PAYLOADS[shape], now=1_760_000_000).kind == kind

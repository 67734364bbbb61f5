"""Scripted readers: Bolt Card taps, replays, wrong keys, removal, garbage, a wallet phone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drivers import DeviceStringError, open_reader
from drivers.boltcard import sun_mac
from drivers.events import ReaderError, TagRead
from drivers.sim import DEMO_BOLTCARD
from tests.drivers.helpers import Events

SCRIPT = """
[boltcard]
uid = "04A1B2C3D4E5F6"
k1 = "00112233445566778899aabbccddeeff"
k2 = "ffeeddccbbaa99887766554433221100"
counter = 9

[[steps]]
card = "boltcard"
delay = 0
[[steps]]
card = "boltcard"
delay = 0
[[steps]]
card = "boltcard"
replay = true
delay = 0
[[steps]]
card = "boltcard"
wrong_keys = true
delay = 0
[[steps]]
removed = true
after = 2
delay = 0
[[steps]]
card = "tag"
ndef_hex = "d101ff5500"
delay = 0
[[steps]]
card = "wallet"
payload = "cpw1.token"
delay = 0
[[steps]]
card = "wallet"
payload = "cpw1.token"
locked = true
delay = 0
"""


def play(device: str, n: int) -> list[object]:
    events = Events()
    reader = open_reader(device)
    reader.start(events)
    try:
        events.wait(lambda items: sum(isinstance(e, TagRead | ReaderError) for e in items) >= n, 5)
    finally:
        reader.stop()
    return [e for e in events.items if isinstance(e, TagRead | ReaderError)]


def sun(url: str, k1: bytes) -> tuple[bytes, int, str]:
    p = bytes.fromhex(url.split("p=")[1].split("&", maxsplit=1)[0])
    dec = Cipher(algorithms.AES(k1), modes.CBC(bytes(16))).decryptor()
    plain = dec.update(p) + dec.finalize()
    return plain[1:8], int.from_bytes(plain[8:11], "little"), url.split("c=")[1]


def test_script_plays_every_kind_of_tap(tmp_path: Path) -> None:
    path = tmp_path / "taps.toml"
    path.write_text(SCRIPT)
    out = play(f"sim:nfc?script={path}", 8)
    kinds = [(type(e).__name__, getattr(e, "code", None)) for e in out]
    assert kinds == [
        ("TagRead", None),
        ("TagRead", None),
        ("TagRead", None),
        ("TagRead", None),
        ("ReaderError", "card_removed"),
        ("ReaderError", "ndef_malformed"),
        ("TagRead", None),
        ("ReaderError", "wallet_error"),
    ]
    k1 = bytes.fromhex("00112233445566778899aabbccddeeff")
    k2 = bytes.fromhex("ffeeddccbbaa99887766554433221100")
    uid = bytes.fromhex("04A1B2C3D4E5F6")
    first, second, replay, forged = (e.payload for e in out[:4])  # type: ignore[attr-defined]
    for url, counter in ((first, 10), (second, 11)):
        got_uid, got_counter, c = sun(url, k1)
        assert (got_uid, got_counter) == (uid, counter)
        assert c == sun_mac(k2, uid, counter).hex().upper()
    assert replay == second  # a replay is byte for byte an earlier tap
    assert sun(forged, k1)[0] != uid  # the issuer's key cannot read the forged card
    assert out[3].uid == uid.hex().upper()  # type: ignore[attr-defined]
    assert out[6].payload == "cpw1.token"  # type: ignore[attr-defined]


def test_inline_boltcard_uses_the_demo_card_with_increasing_counter() -> None:
    out = play("sim:nfc?card=boltcard&count=3&delay=0", 3)
    k1 = bytes.fromhex(DEMO_BOLTCARD["k1"])
    assert [sun(e.payload, k1)[1] for e in out] == [1, 2, 3]  # type: ignore[attr-defined]


def test_json_script_and_plain_payloads(tmp_path: Path) -> None:
    path = tmp_path / "scans.json"
    path.write_text(json.dumps({"steps": [{"payload": "bitcoin:bc1q", "delay": 0}]}))
    events = Events()
    reader = open_reader(f"sim:qr?script={path}")
    reader.start(events)
    try:
        events.wait(lambda items: any(getattr(e, "payload", None) for e in items), 5)
    finally:
        reader.stop()
    assert [getattr(e, "payload", None) for e in events.items if hasattr(e, "payload")] == ["bitcoin:bc1q"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("[[steps]]\ndelay = 1\n", "needs a 'payload'"),
        ('[[steps]]\ncard = "visa"\n', "unknown card 'visa'"),
        ('[[steps]]\npayload = "x"\nspeed = 2\n', "unknown key speed"),
        ('[boltcard]\nk1 = "00"\n[[steps]]\ncard = "boltcard"\n', "bad [boltcard]"),
        ("steps = 3\n", "needs a list of steps"),
        ("steps = [", "is not valid"),
    ],
)
def test_bad_scripts_are_specific_errors(tmp_path: Path, body: str, words: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(DeviceStringError) as info:
        open_reader(f"sim:nfc?script={path}")
    assert words in str(info.value)

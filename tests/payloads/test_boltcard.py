"""Bolt Card taps and SUN verification.

Vectors: boltcard/boltcard docs/TEST_VECTORS.md ("bolt card crypto test vectors", created with
a real card); the tap URL is the example of boltcard/boltcard docs/SPEC.md.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.payloads import PayloadError, parse_payload, payload_to_json
from terminal.domain.payloads.boltcard import BoltCardTap, encrypt_sun, verify_sun

K1 = bytes.fromhex("0c3b25d92b38ae443229dd59ad34b85d")  # aes_decrypt_key
K2 = bytes.fromhex("b45775776cb224c75bcde7ca3704e933")  # aes_cmac_key
UID = bytes.fromhex("04996c6a926980")

# (p, c, counter): "decrypted card data : uid 04996c6a926980 , ctr 000003 ... cmac validates ok"
VECTORS = [
    ("4E2E289D945A66BB13377A728884E867", "E19CCB1FED8892CE", 3),
    ("00F48C4F8E386DED06BCDC78FA92E2FE", "66B4826EA4C155B4", 5),
    ("0DBF3C59B59B0638D60B5842A997D4D1", "CC61660C020B4D96", 7),
]


@pytest.mark.parametrize(("p", "c", "counter"), VECTORS)
def test_published_vectors(p: str, c: str, counter: int) -> None:
    result = verify_sun(p, c, k1=K1, k2=K2)
    assert result.uid == UID
    assert result.counter == counter
    # lower-case hex is the same data
    assert verify_sun(p.lower(), c.lower(), k1=K1, k2=K2) == result


@pytest.mark.parametrize(("p", "c", "counter"), VECTORS)
def test_forged_mac_is_rejected(p: str, c: str, counter: int) -> None:
    bad_c = c[:-1] + ("0" if c[-1] != "0" else "1")
    with pytest.raises(PayloadError) as exc:
        verify_sun(p, bad_c, k1=K1, k2=K2)
    assert exc.value.code == "bad_cmac"
    # the MAC of one tap does not authenticate another tap's data (replaying c with new p)
    other_c = VECTORS[(VECTORS.index((p, c, counter)) + 1) % 3][1]
    with pytest.raises(PayloadError) as exc:
        verify_sun(p, other_c, k1=K1, k2=K2)
    assert exc.value.code == "bad_cmac"


def test_wrong_keys() -> None:
    p, c, _ = VECTORS[0]
    with pytest.raises(PayloadError) as exc:
        verify_sun(p, c, k1=K2, k2=K2)
    assert exc.value.code == "bad_sun_header"
    with pytest.raises(PayloadError) as exc:
        verify_sun(p, c, k1=K1, k2=K1)
    assert exc.value.code == "bad_cmac"
    with pytest.raises(PayloadError) as exc:
        verify_sun(p, c, k1=K1[:8], k2=K2)
    assert exc.value.code == "bad_key"


@pytest.mark.parametrize(
    ("p", "c"), [("4E2E", "E19CCB1FED8892CE"), (VECTORS[0][0], "XYZ"), ("G" * 32, "0" * 16)]
)
def test_malformed_hex(p: str, c: str) -> None:
    with pytest.raises(PayloadError) as exc:
        verify_sun(p, c, k1=K1, k2=K2)
    assert exc.value.code == "bad_sun"


def test_encrypt_reproduces_published_mac() -> None:
    # the MAC depends only on uid, counter and K2, so our card emulation matches the real card's c
    for p, c, counter in VECTORS:
        _, our_c = encrypt_sun(UID, counter, k1=K1, k2=K2)
        assert our_c == c
        assert verify_sun(p, c, k1=K1, k2=K2).counter == counter


@given(
    uid=st.binary(min_size=7, max_size=7),
    counter=st.integers(0, 2**24 - 1),
    rnd=st.binary(min_size=5, max_size=5),
)
def test_emulated_card_round_trip(uid: bytes, counter: int, rnd: bytes) -> None:
    p, c = encrypt_sun(uid, counter, k1=K1, k2=K2, random5=rnd)
    assert verify_sun(p, c, k1=K1, k2=K2) == (verify_sun(p, c, k1=K1, k2=K2))
    r = verify_sun(p, c, k1=K1, k2=K2)
    assert (r.uid, r.counter) == (uid, counter)


def test_card_tap_recognised() -> None:
    # boltcard docs/SPEC.md: the NDEF message read from the card and the URL the POS calls
    tap = parse_payload("lnurlw://card.yourdomain.com?p=A2EF40F6D46F1BB36E6EBF0114D4A464&c=F509EEA788E37E32")
    assert isinstance(tap, BoltCardTap)
    assert tap.url == "https://card.yourdomain.com?p=A2EF40F6D46F1BB36E6EBF0114D4A464&c=F509EEA788E37E32"
    assert (tap.p, tap.c) == ("A2EF40F6D46F1BB36E6EBF0114D4A464", "F509EEA788E37E32")
    j = payload_to_json(tap)
    assert j["kind"] == "boltcard" and j["asset"] == "BTC-LN" and j["amount"] is None


def test_card_tap_onion_and_path() -> None:
    tap = parse_payload("lnurlw://abc.onion/ln/card?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE")
    assert isinstance(tap, BoltCardTap)
    assert tap.url.startswith("http://abc.onion/ln/card?")


@pytest.mark.parametrize(
    "text",
    [
        "lnurlw://card.example?p=4E2E289D945A66BB13377A728884E867",  # c missing
        "lnurlw://card.example?p=4E2E&c=E19CCB1FED8892CE",  # p too short
        "lnurlw://card.example?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CEAA",
        "lnurlw://card.example?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE&c=E19CCB1FED8892CE",
    ],
)
def test_malformed_taps(text: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_payload(text)
    assert exc.value.code in ("bad_sun", "duplicate_param")


def test_counter_replay_rule() -> None:
    from terminal.domain.payloads.boltcard import check_counter

    # the three published taps in order are fresh; replaying any of them afterwards is not
    last = None
    for p, c, _ in VECTORS:
        counter = verify_sun(p, c, k1=K1, k2=K2).counter
        check_counter(counter, last_counter=last)
        last = counter
    for p, c, _ in VECTORS:
        with pytest.raises(PayloadError) as exc:
            check_counter(verify_sun(p, c, k1=K1, k2=K2).counter, last_counter=last)
        assert exc.value.code == "replayed"

"""The Bolt Card simulator produces the SUN URLs a real NTAG 424 DNA does."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drivers.boltcard import BoltCard, BoltCardError, encrypt_picc_data, sun_mac, sun_url

K1 = bytes.fromhex("0c3b25d92b38ae443229dd59ad34b85d")
K2 = bytes.fromhex("b45775776cb224c75bcde7ca3704e933")
UID = bytes.fromhex("04996c6a926980")

# boltcard/boltcard docs/TEST_VECTORS.md: taps of a real card with these keys
VECTORS = [
    ("4E2E289D945A66BB13377A728884E867", "E19CCB1FED8892CE", 3),
    ("00F48C4F8E386DED06BCDC78FA92E2FE", "66B4826EA4C155B4", 5),
    ("0DBF3C59B59B0638D60B5842A997D4D1", "CC61660C020B4D96", 7),
]


def decrypt(k1: bytes, p: bytes) -> bytes:
    dec = Cipher(algorithms.AES(k1), modes.CBC(bytes(16))).decryptor()
    return dec.update(p) + dec.finalize()


@pytest.mark.parametrize(("p", "c", "counter"), VECTORS)
def test_reproduces_the_spec_test_vectors(p: str, c: str, counter: int) -> None:
    plain = decrypt(K1, bytes.fromhex(p))
    assert plain[:11] == b"\xc7" + UID + counter.to_bytes(3, "little")
    # the card's 5 random bytes are the only free input: with them, p and c come out exactly
    assert encrypt_picc_data(K1, UID, counter, plain[11:]).hex().upper() == p
    assert sun_mac(K2, UID, counter).hex().upper() == c


def test_each_tap_increments_the_counter_and_changes_the_url() -> None:
    card = BoltCard(uid=UID, k1=K1, k2=K2, counter=41)
    urls = [card.tap() for _ in range(3)]
    assert len(set(urls)) == 3
    counters = []
    for url in urls:
        assert url.startswith("lnurlw://card.example.com/ln?p=")
        p = bytes.fromhex(url.split("p=")[1].split("&")[0])
        c = url.split("c=")[1]
        plain = decrypt(K1, p)
        counter = int.from_bytes(plain[8:11], "little")
        counters.append(counter)
        assert c == sun_mac(K2, UID, counter).hex().upper()
    assert counters == [42, 43, 44]


def test_replay_returns_an_earlier_url_and_wrong_keys_do_not_match() -> None:
    card = BoltCard(uid=UID, k1=K1, k2=K2)
    first = card.tap()
    card.tap()
    assert card.replay(0) == first
    forged = card.with_wrong_keys().tap()
    p = bytes.fromhex(forged.split("p=")[1].split("&")[0])
    assert decrypt(K1, p)[0] != 0xC7 or decrypt(K1, p)[1:8] != UID  # the issuer's K1 reads nonsense


def test_query_is_appended_to_a_base_that_has_one() -> None:
    url = sun_url("lnurlw://x.example/ln?card=7", k1=K1, k2=K2, uid=UID, counter=1, random5=bytes(5))
    assert url.startswith("lnurlw://x.example/ln?card=7&p=")


@pytest.mark.parametrize(
    "kwargs",
    [{"k1": b"short"}, {"uid": b"\x04\x01"}, {"counter": 1 << 24}, {"random5": b"\x00"}],
)
def test_bad_inputs_are_named(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"k1": K1, "k2": K2, "uid": UID, "counter": 1, "random5": bytes(5)}
    args.update(kwargs)
    with pytest.raises(BoltCardError):
        sun_url("lnurlw://x", **args)  # type: ignore[arg-type]


def test_replay_before_any_tap_is_an_error() -> None:
    with pytest.raises(BoltCardError, match="not been tapped"):
        BoltCard(uid=UID, k1=K1, k2=K2).replay()

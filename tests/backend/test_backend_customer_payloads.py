"""Customer-presented payloads the payments service verifies: Bolt Card taps, wallet tokens."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from backend_stub.store import Store
from terminal.domain.payloads.boltcard import encrypt_sun
from terminal.domain.payloads.lnurl import encode_lnurl
from terminal.domain.payloads.wallet_token import sign_token

from .conftest import Api, FakeClock, problem_type

UID = bytes.fromhex("04A1B2C3D4E5F6")
K1 = bytes.fromhex("0c3b25d92b38ae443229dd59ad34b85d")  # issuer key, shared by cards
K2 = bytes.fromhex("b45775776cb224c75bcde7ca3704e933")  # this card's own key


def tap(counter: int, *, uid: bytes = UID, k1: bytes = K1, k2: bytes = K2) -> str:
    p, c = encrypt_sun(uid, counter, k1=k1, k2=k2)
    return f"lnurlw://pay.cryptopos.test/ln/withdraw?p={p}&c={c}"


async def issue(api: Api, uid: bytes = UID, k2: bytes = K2) -> None:
    r = await api.post("/payments/v2/test/cards", {"uid": uid.hex(), "k1": K1.hex(), "k2": k2.hex()})
    assert r.status_code == 201, r.text


async def pay(api: Api, payload: str, *, key: str, asset: str = "BTC-LN") -> dict[str, Any]:
    q = await api.quote_v2(asset=asset)
    r = await api.pay_v2(q, key=key, reference=key, payload=payload)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_genuine_tap_is_approved_and_its_replay_declined(api: Api) -> None:
    await issue(api)
    first = await pay(api, tap(5), key="t1")
    assert (first["status"], first["method"]) == ("approved", "boltcard")
    replay = await pay(api, tap(5), key="t2")
    assert (replay["status"], replay["reason"]) == ("declined", "replayed_tap")
    older = await pay(api, tap(3), key="t3")
    assert older["reason"] == "replayed_tap"
    assert (await pay(api, tap(6), key="t4"))["status"] == "approved"


async def test_forged_mac_and_unknown_cards_are_declined(api: Api) -> None:
    await issue(api)
    p, _c = encrypt_sun(UID, 9, k1=K1, k2=K2)
    forged = f"lnurlw://pay.cryptopos.test/w?p={p}&c={'0' * 16}"
    assert (await pay(api, forged, key="f1"))["reason"] == "bad_signature"
    stranger = tap(1, k1=bytes(16), k2=bytes(16))
    assert (await pay(api, stranger, key="f2"))["reason"] == "unknown_card"
    # A card of the same issuer (same K1) that was never issued here:
    other = tap(1, uid=bytes.fromhex("04FFFFFFFFFFFF"))
    assert (await pay(api, other, key="f3"))["status"] == "declined"


async def test_cards_share_k1_but_each_checks_its_own_k2(api: Api) -> None:
    second_uid, second_k2 = bytes.fromhex("04000000000001"), secrets.token_bytes(16)
    await issue(api)
    await issue(api, uid=second_uid, k2=second_k2)
    assert (await pay(api, tap(1, uid=second_uid, k2=second_k2), key="s1"))["status"] == "approved"
    assert (await pay(api, tap(1), key="s2"))["status"] == "approved"  # counters are per card
    wrong = tap(2, uid=second_uid, k2=K2)  # first card's K2 on the second card's UID
    assert (await pay(api, wrong, key="s3"))["reason"] == "bad_signature"


async def test_a_bech32_lnurl_carrying_sun_is_verified_too(api: Api) -> None:
    await issue(api)
    p, c = encrypt_sun(UID, 11, k1=K1, k2=K2)
    lnurl = encode_lnurl(f"https://pay.cryptopos.test/ln/withdraw?p={p}&c={c}")
    assert (await pay(api, lnurl, key="b1"))["method"] == "boltcard"
    assert (await pay(api, lnurl, key="b2"))["reason"] == "replayed_tap"


async def test_a_malformed_tap_is_declined_not_a_crash(api: Api) -> None:
    r = await pay(api, "lnurlw://pay.cryptopos.test/w?p=zz&c=00", key="m1")
    assert (r["status"], r["reason"]) == ("declined", "invalid_payload")


async def test_the_counter_survives_in_the_store(api: Api, store: Store) -> None:
    await issue(api)
    await pay(api, tap(41), key="c1")
    assert store.fetch_one("SELECT counter FROM cards")["counter"] == 41


class Wallet:
    def __init__(self, key_id: str = "w-key-1") -> None:
        self.key = Ed25519PrivateKey.generate()
        self.key_id = key_id
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def token(self, *, now: float, asset: str = "BTC", ttl: int = 120, nonce: bytes | None = None) -> str:
        return sign_token(
            private_key=self.key,
            key_id=self.key_id,
            wallet_id="alice",
            asset=asset,
            nonce=nonce or secrets.token_bytes(16),
            expires_at=int(now) + ttl,
        )


async def trust(api: Api, wallet: Wallet) -> None:
    r = await api.post(
        "/payments/v2/test/wallet-keys", {"key_id": wallet.key_id, "public_key": wallet.public}
    )
    assert r.status_code == 201, r.text


async def test_wallet_token_approved_once(api: Api, clock: FakeClock) -> None:
    w = Wallet()
    await trust(api, w)
    token = w.token(now=clock())
    first = await pay(api, token, key="w1", asset="BTC")
    assert (first["status"], first["method"]) == ("approved", "wallet_token")
    again = await pay(api, token, key="w2", asset="BTC")
    assert (again["status"], again["reason"]) == ("declined", "replayed_token")


async def test_wallet_token_refusals(api: Api, clock: FakeClock) -> None:
    w, stranger = Wallet(), Wallet("w-key-2")
    await trust(api, w)
    assert (await pay(api, stranger.token(now=clock()), key="r1", asset="BTC"))[
        "reason"
    ] == "unknown_wallet_key"
    assert (await pay(api, w.token(now=clock(), asset="ETH"), key="r2", asset="BTC"))[
        "reason"
    ] == "asset_mismatch"
    old = w.token(now=clock() - 600, ttl=60)
    assert (await pay(api, old, key="r3", asset="BTC"))["reason"] == "expired_token"
    stranger.key_id = w.key_id  # claims to be the trusted key, signed by another
    assert (await pay(api, stranger.token(now=clock()), key="r4", asset="BTC"))["reason"] == "bad_signature"
    assert (await pay(api, "CPT1:AAAA", key="r5", asset="BTC"))["reason"] == "invalid_token"


async def test_a_wallet_nonce_is_remembered_until_the_token_expires(
    api: Api, clock: FakeClock, store: Store
) -> None:
    w = Wallet()
    await trust(api, w)
    nonce = secrets.token_bytes(16)
    token = w.token(now=clock(), ttl=3600, nonce=nonce)
    assert (await pay(api, token, key="n1", asset="BTC"))["status"] == "approved"
    clock.advance(1800)  # far beyond the 300 s request window, still before the token expires
    assert (await pay(api, token, key="n2", asset="BTC"))["reason"] == "replayed_token"


async def test_test_mode_endpoints_are_off_outside_test_mode(store: Store, clock: FakeClock) -> None:
    from backend_stub.app import create_app
    from backend_stub.settings import ServiceSettings

    from .conftest import KEY_ID, SECRET, client_for

    settings = ServiceSettings(keys={KEY_ID: SECRET}, clock=clock, test_mode=False)
    async with client_for(create_app(store=store, settings=settings)) as http:
        r = await Api(http, clock).post(
            "/payments/v2/test/cards", {"uid": UID.hex(), "k1": K1.hex(), "k2": K2.hex()}
        )
    assert (r.status_code, problem_type(r)) == (404, "not-found")


async def test_v1_verifies_bolt_card_taps_too(api: Api) -> None:
    await issue(api)
    q = (
        await api.post("/rates/v1/quotes", {"fiat_amount": "1.00", "fiat_currency": "EUR", "asset": "BTC-LN"})
    ).json()
    body = {"quote_id": q["quote_id"], "asset": "BTC-LN", "amount": q["crypto_amount"], "payload": tap(7)}
    first = await api.post("/payments/v1/payments", {**body, "reference": "v1-a"})
    replay = await api.post("/payments/v1/payments", {**body, "reference": "v1-b"})
    assert first.json()["status"] == "approved"
    assert (replay.json()["status"], replay.json()["reason"]) == ("declined", "replayed_tap")

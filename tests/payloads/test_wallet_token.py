"""The wallet payment token (docs/wallet-token.md): sign, decode, verify, and every rejection."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.payloads import PayloadError, WalletToken, parse_payload, payload_to_json
from terminal.domain.payloads.wallet_token import decode_token, sign_token, verify_token

SEED = bytes(range(32))  # the example key of docs/wallet-token.md
KEY = Ed25519PrivateKey.from_private_bytes(SEED)
PUB = KEY.public_key()
NONCE = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
EXP = 1_764_000_000


def token(**kw: object) -> str:
    args: dict[str, object] = {
        "private_key": SEED,
        "key_id": "w1",
        "wallet_id": "wallet-42",
        "asset": "BTC-LN",
        "nonce": NONCE,
        "expires_at": EXP,
    }
    args.update(kw)
    return sign_token(**args)  # type: ignore[arg-type]


def test_docs_example() -> None:
    # docs/wallet-token.md shows exactly this token for this key and these fields
    text = token()
    assert text == DOC_EXAMPLE
    t = verify_token(text, public_keys={"w1": PUB}, now=EXP - 1)
    assert (t.wallet_id, t.asset, t.nonce, t.expires_at, t.verified) == (
        "wallet-42",
        "BTC-LN",
        NONCE,
        EXP,
        True,
    )
    assert set(text[5:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # QR alphanumeric-mode safe


def test_verify_with_raw_public_key_bytes() -> None:
    from cryptography.hazmat.primitives import serialization

    raw = PUB.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert verify_token(token(), public_keys={"w1": raw}, now=EXP - 1).verified


def test_expired_unknown_key_and_forgery() -> None:
    with pytest.raises(PayloadError) as exc:
        verify_token(token(), public_keys={"w1": PUB}, now=EXP)
    assert exc.value.code == "expired"
    with pytest.raises(PayloadError) as exc:
        verify_token(token(), public_keys={"other": PUB}, now=0)
    assert exc.value.code == "unknown_key"
    other = Ed25519PrivateKey.generate()
    with pytest.raises(PayloadError) as exc:
        verify_token(token(private_key=other), public_keys={"w1": PUB}, now=0)
    assert exc.value.code == "bad_signature"


def test_tampered_fields_fail_signature() -> None:
    raw = base64.b32decode(token()[5:] + "=" * (-len(token()[5:]) % 8))
    body, sig = bytearray(raw[:-64]), raw[-64:]
    body[-1] ^= 1  # push the expiry by a second
    forged = "CPT1:" + base64.b32encode(bytes(body) + sig).decode().rstrip("=")
    assert decode_token(forged).expires_at == EXP ^ 1
    with pytest.raises(PayloadError) as exc:
        verify_token(forged, public_keys={"w1": PUB}, now=0)
    assert exc.value.code == "bad_signature"


def test_parse_payload_inspects_without_verifying() -> None:
    p = parse_payload(token(), now=EXP + 5)
    assert isinstance(p, WalletToken) and not p.verified and p.expired is True
    j = payload_to_json(p)
    assert (j["kind"], j["asset"], j["expired"], j["expires_at"], j["wallet_id"]) == (
        "wallet_token",
        "BTC-LN",
        True,
        EXP,
        "wallet-42",
    )
    assert parse_payload(token().lower(), now=0) == p  # base32 is case-insensitive


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CPT1:", "bad_token"),
        ("CPT1:!!!!", "bad_token"),
        ("CPT1:" + base64.b32encode(b"\x02" + bytes(80)).decode().rstrip("="), "unsupported_version"),
        ("CPT1:" + base64.b32encode(b"\x01" + bytes(10)).decode().rstrip("="), "bad_token"),
        ("CPT1:" + base64.b32encode(b"\x01\x00" + bytes(100)).decode().rstrip("="), "bad_token"),
    ],
)
def test_malformed(text: str, code: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_payload(text)
    assert exc.value.code == code


def test_sign_rejects_bad_fields() -> None:
    for kw in (
        {"asset": "EUR"},
        {"asset": "DOGE"},
        {"nonce": b"short"},
        {"wallet_id": ""},
        {"key_id": "k" * 40},
    ):
        with pytest.raises(PayloadError):
            token(**kw)


@given(
    wallet=st.text(min_size=1, max_size=16),
    asset=st.sampled_from(["BTC", "BTC-LN", "ETH", "USDC", "USDT", "SOL"]),
    nonce=st.binary(min_size=16, max_size=16),
    exp=st.integers(min_value=0, max_value=2**63),
)
def test_round_trip(wallet: str, asset: str, nonce: bytes, exp: int) -> None:
    text = token(wallet_id=wallet, asset=asset, nonce=nonce, expires_at=exp)
    t = verify_token(text, public_keys={"w1": PUB}, now=exp - 1)
    assert (t.wallet_id, t.asset, t.nonce, t.expires_at) == (wallet, asset, nonce, exp)


DOC_EXAMPLE = (
    "CPT1:AEBHOMIJO5QWY3DFOQWTIMQGIJKEGLKMJYAACAQDAQCQMBYIBEFAWDANBYHQAAAAABUSJAIA6I56OHGY5SEOQAEMEPZXSNHOHXE7O3TPDS"
    "5TO54JXT7VOFMLNLHYRSIJKU32M3J5XXNTTECP7JI7N64B4HOKYOBUVS4YBFTJ7DXTAAI"
)

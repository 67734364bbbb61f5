"""The wallet payment token: what a customer's wallet app shows as a QR code or serves over NFC.

Specified in docs/wallet-token.md. Text form: ``CPT1:`` + RFC 4648 base32 (no padding) of
``body || signature`` — upper-case letters, digits 2-7 and ':' only, so a QR code can use its
dense alphanumeric mode. Body (version 1), big-endian::

    version      1 byte   0x01
    key_id       1-byte length + 1..32 ASCII bytes   which wallet key signed
    wallet_id    1-byte length + 1..64 UTF-8 bytes
    asset        1-byte length + 1..16 ASCII bytes   an asset code of terminal.domain.money
    nonce        16 bytes                           single use; the caller records it (journal)
    expires_at   8 bytes                            epoch seconds
    signature    64 bytes  Ed25519 over b"cryptopos-wallet-token/v1\\0" + body

``decode_token`` reads a token without keys (``cryptopos parse`` shows it, unverified);
``verify_token`` checks the signature with the wallet's public key and the expiry against
``now``. Replay of a nonce is for the caller to refuse: it keeps the nonces it has seen.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from terminal.domain.money import ASSETS, AssetKind
from terminal.domain.payloads.errors import PayloadError

__all__ = ["PREFIX", "WalletToken", "decode_token", "sign_token", "verify_token"]

PREFIX = "CPT1:"
VERSION = 1
DOMAIN = b"cryptopos-wallet-token/v1\x00"
NONCE_LEN = 16
SIG_LEN = 64
_LIMITS = {"key_id": 32, "wallet_id": 64, "asset": 16}
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True, slots=True)
class WalletToken:
    kind = "wallet_token"

    version: int
    key_id: str
    wallet_id: str
    asset: str
    nonce: bytes
    expires_at: int
    signature: bytes
    body: bytes = field(repr=False)
    verified: bool = False
    expired: bool | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "network": None,
            "asset": self.asset,
            "amount": None,
            "amount_minor": None,
            "version": self.version,
            "key_id": self.key_id,
            "wallet_id": self.wallet_id,
            "nonce": self.nonce.hex(),
            "expires_at": self.expires_at,
            "expired": self.expired,
            "verified": self.verified,
        }


def _field(name: str, value: bytes) -> bytes:
    if not 1 <= len(value) <= _LIMITS[name]:
        raise PayloadError("bad_token", f"{name} must be 1-{_LIMITS[name]} bytes")
    return bytes([len(value)]) + value


def _check_asset(asset: str) -> None:
    a = ASSETS.get(asset)
    if a is None or a.kind is not AssetKind.CRYPTO:
        raise PayloadError("bad_token", f"asset {asset!r} is not a crypto asset this terminal knows")


def sign_token(
    *,
    private_key: Ed25519PrivateKey | bytes,
    key_id: str,
    wallet_id: str,
    asset: str,
    nonce: bytes,
    expires_at: int,
) -> str:
    """Encode and sign a token. ``private_key``: an Ed25519 key or its 32 raw bytes."""
    key = (
        private_key
        if isinstance(private_key, Ed25519PrivateKey)
        else Ed25519PrivateKey.from_private_bytes(private_key)
    )
    if len(nonce) != NONCE_LEN:
        raise PayloadError("bad_token", f"the nonce is {NONCE_LEN} bytes")
    if not 0 <= expires_at < 1 << 64:
        raise PayloadError("bad_token", "expires_at out of range")
    _check_asset(asset)
    try:
        body = (
            bytes([VERSION])
            + _field("key_id", key_id.encode("ascii"))
            + _field("wallet_id", wallet_id.encode("utf-8"))
            + _field("asset", asset.encode("ascii"))
            + nonce
            + expires_at.to_bytes(8, "big")
        )
    except UnicodeEncodeError:
        raise PayloadError("bad_token", "key_id and asset are ASCII") from None
    sig = key.sign(DOMAIN + body)
    return PREFIX + base64.b32encode(body + sig).decode().rstrip("=")


def _take(raw: bytes, pos: int, name: str) -> tuple[bytes, int]:
    if pos >= len(raw):
        raise PayloadError("bad_token", f"the token ends before its {name}")
    n = raw[pos]
    value = raw[pos + 1 : pos + 1 + n]
    if not 1 <= n <= _LIMITS[name] or len(value) != n:
        raise PayloadError("bad_token", f"the token's {name} is malformed")
    return value, pos + 1 + n


def decode_token(text: str, *, now: float | None = None) -> WalletToken:
    """Read a token without verifying it (``verified`` is False). ``now`` sets ``expired``."""
    if len(text) > MAX_TOKEN_CHARS:
        raise PayloadError("too_long", "the wallet token is too long")
    if text[: len(PREFIX)].upper() != PREFIX:
        raise PayloadError("unsupported_scheme", "not a wallet token")
    b32 = text[len(PREFIX) :].upper()
    try:
        raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except (binascii.Error, ValueError):
        raise PayloadError("bad_token", "the wallet token is not valid base32") from None
    if not raw:
        raise PayloadError("bad_token", "the wallet token is empty")
    if raw[0] != VERSION:
        raise PayloadError("unsupported_version", f"wallet token version {raw[0]} is not supported (1 is)")
    if len(raw) < 1 + SIG_LEN:
        raise PayloadError("bad_token", "the wallet token is too short")
    body, sig = raw[:-SIG_LEN], raw[-SIG_LEN:]
    key_id, pos = _take(body, 1, "key_id")
    wallet, pos = _take(body, pos, "wallet_id")
    asset, pos = _take(body, pos, "asset")
    if len(body) != pos + NONCE_LEN + 8:
        raise PayloadError("bad_token", "the wallet token has the wrong length")
    nonce = body[pos : pos + NONCE_LEN]
    expires_at = int.from_bytes(body[pos + NONCE_LEN :], "big")
    try:
        token = WalletToken(
            version=VERSION,
            key_id=key_id.decode("ascii"),
            wallet_id=wallet.decode("utf-8"),
            asset=asset.decode("ascii"),
            nonce=nonce,
            expires_at=expires_at,
            signature=sig,
            body=body,
        )
    except UnicodeDecodeError:
        raise PayloadError("bad_token", "the wallet token's text fields are not valid text") from None
    _check_asset(token.asset)
    if now is not None:
        token = replace(token, expired=now >= expires_at)
    return token


def verify_token(
    text: str, *, public_keys: Mapping[str, Ed25519PublicKey | bytes], now: float
) -> WalletToken:
    """Decode, check the signature with ``public_keys[key_id]`` and refuse an expired token."""
    token = decode_token(text, now=now)
    key = public_keys.get(token.key_id)
    if key is None:
        raise PayloadError("unknown_key", f"no public key for key id {token.key_id!r}")
    try:
        pub = key if isinstance(key, Ed25519PublicKey) else Ed25519PublicKey.from_public_bytes(key)
        pub.verify(token.signature, DOMAIN + token.body)
    except InvalidSignature:
        raise PayloadError("bad_signature", "the wallet token's signature does not verify") from None
    except ValueError:
        raise PayloadError(
            "unknown_key", f"the key for {token.key_id!r} is not an Ed25519 public key"
        ) from None
    if token.expired:
        raise PayloadError("expired", "the wallet token has expired; ask the customer to refresh it")
    return replace(token, verified=True)

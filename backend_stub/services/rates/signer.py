"""Ed25519 signatures on quotes, so a receipt can prove the rate it was sold at.

The signature covers the canonical JSON of the quote without its ``signature`` member:
keys sorted, no spaces, UTF-8. The key is derived from a seed in the settings, so every
instance and build of the rates service signs with the same key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["QuoteSigner", "b64url", "canonical_json", "verify_quote"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class QuoteSigner:
    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
        self.public_raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = "rates-" + hashlib.sha256(self.public_raw).hexdigest()[:12]

    def sign(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` plus its ``signature`` member."""
        unsigned = {k: v for k, v in doc.items() if k != "signature"}
        value = self._key.sign(canonical_json(unsigned))
        return {**unsigned, "signature": {"alg": "Ed25519", "key_id": self.key_id, "value": b64url(value)}}

    def public_key_doc(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "alg": "Ed25519",
            "public_key": b64url(self.public_raw),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_raw), "kid": self.key_id},
        }


def verify_quote(doc: dict[str, Any], public_key: bytes) -> bool:
    """True when ``doc['signature']`` is a valid Ed25519 signature by ``public_key``."""
    sig = doc.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != "Ed25519" or not isinstance(sig.get("value"), str):
        return False
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            _unb64url(sig["value"]), canonical_json(unsigned)
        )
    except (InvalidSignature, ValueError):
        return False
    return True

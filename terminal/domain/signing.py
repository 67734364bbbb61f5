"""Request signing shared by the terminal and any backend that verifies it.

``HMAC-SHA256(secret, canonical)`` where ``canonical`` is the lines::

    METHOD
    /path?query
    timestamp (integer epoch seconds)
    nonce
    hex SHA-256 of the body

sent as headers ``X-Cp-Key-Id``, ``X-Cp-Timestamp``, ``X-Cp-Nonce`` and
``X-Cp-Signature`` (lower-case hex). The backend accepts a timestamp within
``±WINDOW_S`` of its clock and each nonce once within that window.
"""

from __future__ import annotations

import hashlib
import hmac

WINDOW_S = 300
KEY_ID = "X-Cp-Key-Id"
TIMESTAMP = "X-Cp-Timestamp"
NONCE = "X-Cp-Nonce"
SIGNATURE = "X-Cp-Signature"


def canonical(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


def sign(secret: bytes, method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    return hmac.new(secret, canonical(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def signature_headers(
    *, key_id: str, secret: bytes, method: str, path: str, timestamp: int, nonce: str, body: bytes
) -> dict[str, str]:
    return {
        KEY_ID: key_id,
        TIMESTAMP: str(timestamp),
        NONCE: nonce,
        SIGNATURE: sign(secret, method, path, timestamp, nonce, body),
    }


def verify(
    secret: bytes, method: str, path: str, timestamp: int, nonce: str, body: bytes, signature: str
) -> bool:
    expected = sign(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, signature.lower())

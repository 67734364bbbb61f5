"""Cashier PINs as salted slow hashes (``hashlib.scrypt``), the only form a PIN is kept in on
the till. A manager's PIN is never hashed here: the backend alone verifies it.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``: the parameters travel with it,
so a later, stronger choice does not lock out people whose hash was made with the old one.
One hash costs about 16 MiB and some tens of milliseconds, which is what makes guessing a
4-digit PIN from a stolen file slow; the TUI computes it off its event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


class PinHashError(ValueError):
    """A stored hash this version cannot read (the message never holds the hash)."""


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES)


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """A new salted hash of ``pin`` (already checked by :func:`terminal.staff.rules.check_pin`)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    """Whether ``pin`` is the PIN ``stored`` was made from (compared in constant time)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise PinHashError("a stored PIN hash is not in the scrypt$n$r$p$salt$key form")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise PinHashError("a stored PIN hash has unreadable parameters") from None
    if n < 2**14 or n & (n - 1) or r < 1 or p < 1 or len(salt) < 16:
        raise PinHashError("a stored PIN hash has parameters weaker than this till accepts")
    try:
        candidate = _scrypt(pin, salt, n, r, p)
    except (ValueError, MemoryError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(candidate, key)

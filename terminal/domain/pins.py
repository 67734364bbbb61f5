"""Staff PINs as salted slow hashes (``hashlib.scrypt``): the only form a PIN is kept in, on
the till (its cashiers; a manager's PIN is never hashed there) and in the backend's ledger (its
managers). One implementation for both, so the two cannot drift.

A stored hash reads ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``: the parameters travel with
it, so a later, stronger choice does not lock out the people whose hash was made with the old
one. One hash costs about 16 MiB and some tens of milliseconds; that is what makes a 4-digit
PIN slow to guess from a stolen file, why the services compute it outside a write transaction
and why the TUI computes it off its event loop.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets

__all__ = ["PIN", "PinHashError", "decoy", "hash_pin", "valid_pin", "verify_pin"]

PIN = re.compile(r"^[0-9]{4,8}$")
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024
# What a hash made elsewhere must at least have, so a weak one in the ledger is not trusted.
_MIN_N, _MAX_N = 2**14, 2**20


class PinHashError(ValueError):
    """A stored hash this version cannot read (the message never holds the hash)."""


def valid_pin(pin: str) -> bool:
    """4 to 8 ASCII digits."""
    return PIN.fullmatch(pin) is not None


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES)


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """A new salted hash of ``pin`` (which must be :func:`valid_pin`)."""
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 8 digits")
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
    if not _MIN_N <= n <= _MAX_N or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or len(salt) < 16:
        raise PinHashError("a stored PIN hash has parameters outside what this version accepts (weaker)")
    if not valid_pin(pin):
        _scrypt("0000", salt, n, r, p)  # the same time as a real check: no shortcut to time
        return False
    return hmac.compare_digest(_scrypt(pin, salt, n, r, p), key)


@functools.cache
def decoy() -> str:
    """A hash of no one's PIN: what an unknown staff id is checked against, so that an unknown
    id takes as long to refuse as a known one with a wrong PIN."""
    return hash_pin("0000", salt=b"cryptopos-decoy!")

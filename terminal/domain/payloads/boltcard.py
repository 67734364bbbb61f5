"""Bolt Card taps (NTAG 424 DNA "Secure Unique NFC") and their server-side verification.

A card answers a tap with an NDEF URI ``lnurlw://host/path?p=<32 hex>&c=<16 hex>``:

- ``p`` = AES-128-CBC(K1, IV = 0) of ``0xC7 || UID (7) || counter (3, little-endian) || 5 random``;
- ``c`` = the odd bytes (1, 3, ..., 15) of ``CMAC(Ks, "")`` where
  ``Ks = CMAC(K2, 3C C3 00 01 00 80 || UID || counter)`` (NXP AN12196, SDMMAC without file data).

``verify_sun`` decrypts and authenticates; it does not keep state. The caller keeps the last
counter per card and treats a counter that does not increase as a replay (``check_counter``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from terminal.domain.payloads._host import check_url_host
from terminal.domain.payloads._uri import pct_decode, safe_urlsplit, split_query
from terminal.domain.payloads.errors import PayloadError

__all__ = [
    "BoltCardTap",
    "SunResult",
    "check_counter",
    "encrypt_sun",
    "parse_card_tap",
    "sun_mac",
    "verify_sun",
]

PICC_DATA_TAG = 0xC7  # UID mirrored (7 bytes) + read counter mirrored, per the NTAG 424 datasheet
_SV2_PREFIX = bytes.fromhex("3CC300010080")
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class SunResult:
    uid: bytes
    counter: int


@dataclass(frozen=True, slots=True)
class BoltCardTap:
    """A Bolt Card tap, recognised but not yet verified (verification needs the card keys)."""

    kind = "boltcard"

    url: str  # the https URL a wallet/POS calls (LUD-17: lnurlw:// -> https://, http:// for .onion)
    lnurl: str  # as read from the card
    p: str
    c: str

    def to_json(self) -> dict[str, Any]:
        return {
            "network": None,
            "asset": "BTC-LN",
            "amount": None,
            "amount_minor": None,
            "url": self.url,
            "tag": "withdrawRequest",
            "p": self.p,
            "c": self.c,
        }


def _hex(value: str, nbytes: int, *, name: str) -> bytes:
    if len(value) != 2 * nbytes or not set(value) <= _HEX:
        raise PayloadError("bad_sun", f"{name} must be {2 * nbytes} hex digits")
    return bytes.fromhex(value)


def _aes_cbc(key: bytes, data: bytes, *, decrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def _check_key(key: bytes, name: str) -> None:
    if not isinstance(key, bytes) or len(key) != 16:
        raise PayloadError("bad_key", f"{name} must be 16 bytes (AES-128)")


def sun_mac(uid: bytes, counter: int, *, k2: bytes) -> bytes:
    """The 8-byte truncated SDMMAC a card with file key ``k2`` computes for ``uid`` and ``counter``."""
    _check_key(k2, "k2")
    sv2 = _SV2_PREFIX + uid + counter.to_bytes(3, "little")
    ks = _cmac(k2, sv2)
    return _cmac(ks, b"")[1::2]


def verify_sun(p_hex: str, c_hex: str, *, k1: bytes, k2: bytes) -> SunResult:
    """Decrypt ``p`` with K1 and check ``c`` with K2; raises ``PayloadError`` when either fails."""
    _check_key(k1, "k1")
    p = _hex(p_hex, 16, name="p")
    c = _hex(c_hex, 8, name="c")
    plain = _aes_cbc(k1, p, decrypt=True)
    if plain[0] != PICC_DATA_TAG:
        raise PayloadError(
            "bad_sun_header",
            f"decrypted card data starts with 0x{plain[0]:02x}, not 0xc7: wrong key or not a Bolt Card",
        )
    uid = plain[1:8]
    counter = int.from_bytes(plain[8:11], "little")
    if not hmac.compare_digest(sun_mac(uid, counter, k2=k2), c):
        raise PayloadError("bad_cmac", "the card's authentication code does not match: forged or wrong key")
    return SunResult(uid=uid, counter=counter)


def check_counter(counter: int, *, last_counter: int | None) -> None:
    """The replay rule for the caller that keeps counters: a tap must count past the last one seen.

    Raises ``PayloadError("replayed", ...)`` when ``counter <= last_counter``; ``last_counter``
    is None for a card never seen before.
    """
    if last_counter is not None and counter <= last_counter:
        raise PayloadError(
            "replayed", f"card counter {counter} does not increase (last seen {last_counter}): a replayed tap"
        )


def encrypt_sun(
    uid: bytes, counter: int, *, k1: bytes, k2: bytes, random5: bytes = b"\0" * 5
) -> tuple[str, str]:
    """What a card with keys K1/K2 would write: ``(p_hex, c_hex)`` in upper case. For emulators and tests."""
    _check_key(k1, "k1")
    if len(uid) != 7 or not 0 <= counter < 1 << 24 or len(random5) != 5:
        raise PayloadError("bad_sun", "uid is 7 bytes, counter 0..2^24-1, padding 5 bytes")
    plain = bytes([PICC_DATA_TAG]) + uid + counter.to_bytes(3, "little") + random5
    p = _aes_cbc(k1, plain, decrypt=False)
    return p.hex().upper(), sun_mac(uid, counter, k2=k2).hex().upper()


def https_url(url: str) -> str:
    """LUD-17: ``lnurlw://``, ``lnurlp://``, ``lnurlc://``, ``keyauth://`` -> https (http for .onion).

    The host comes out in ASCII form (punycode for an international name; look-alikes refused).
    """
    _, _, rest = url.partition("://")
    parts = safe_urlsplit("//" + rest, what="card link")
    scheme = "http" if (parts.hostname or "").endswith(".onion") else "https"
    return check_url_host(
        f"{scheme}://{rest}", parts._replace(scheme=scheme), scheme=scheme, what="card link"
    )


def parse_card_tap(text: str) -> BoltCardTap | None:
    """A ``lnurlw://`` URL carrying ``p`` and ``c`` is a Bolt Card tap; ``None`` when it carries neither."""
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() != "lnurlw":
        return None
    query = safe_urlsplit(text).query
    params: dict[str, str] = {}
    for k, v in split_query(query):
        if k in ("p", "c"):
            if k in params:
                raise PayloadError("duplicate_param", f"Bolt Card tap has {k!r} twice")
            params[k] = pct_decode(v, what=k)
    if not params:
        return None
    if set(params) != {"p", "c"}:
        raise PayloadError("bad_sun", "a Bolt Card tap carries both p (32 hex) and c (16 hex)")
    _hex(params["p"], 16, name="p")
    _hex(params["c"], 8, name="c")
    return BoltCardTap(url=https_url(text), lnurl=text, p=params["p"], c=params["c"])

"""The card side of a Bolt Card: an NTAG 424 DNA that mirrors a SUN URL into its NDEF file.

On every read the card increments its 24-bit SDM read counter and writes into the URL

* ``p``: PICCData encrypted with K1 (SDM meta read key), AES-128-CBC with a zero IV, one block:
  ``0xC7 || UID (7) || counter (3, LSB first) || 5 random bytes``;
* ``c``: the SDM MAC with K2 (SDM file read key): the session key is
  ``CMAC(K2, 3CC3 0001 0080 || UID || counter LSB first)``, the MAC is ``CMAC(session key, b"")``
  (Bolt Cards MAC an empty input), and the URL carries its odd-indexed bytes (8 of 16).

That is NXP AN12196 as the boltcard project's SPEC.md and TEST_VECTORS.md use it. This module
only *produces* SUN URLs (for the simulated reader and the test emulators); checking them is the
payload layer's job. It is pure: randomness comes in as an argument or from ``os.urandom``.

Errors::

    BoltCardError (ValueError)     bad key, UID or counter
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

PICC_DATA_TAG = 0xC7  # UID mirrored (bit 7), counter mirrored (bit 6), UID length 7
SV2_PREFIX = bytes.fromhex("3CC300010080")
COUNTER_MAX = 0xFFFFFF


class BoltCardError(ValueError):
    pass


def _key(name: str, key: bytes) -> bytes:
    if len(key) != 16:
        raise BoltCardError(f"{name} must be 16 bytes (AES-128), got {len(key)}")
    return bytes(key)


def aes_cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def encrypt_picc_data(k1: bytes, uid: bytes, counter: int, random5: bytes) -> bytes:
    """The 16-byte ``p`` value (before hex encoding)."""
    _key("K1", k1)
    if len(uid) != 7:
        raise BoltCardError(f"an NTAG 424 UID is 7 bytes, got {len(uid)}")
    if not 0 <= counter <= COUNTER_MAX:
        raise BoltCardError(f"the SDM counter is 24 bits (0..{COUNTER_MAX}), got {counter}")
    if len(random5) != 5:
        raise BoltCardError("PICCData padding is 5 random bytes")
    plain = bytes([PICC_DATA_TAG]) + uid + counter.to_bytes(3, "little") + random5
    enc = Cipher(algorithms.AES(k1), modes.CBC(bytes(16))).encryptor()
    return enc.update(plain) + enc.finalize()


def sun_mac(k2: bytes, uid: bytes, counter: int) -> bytes:
    """The 8-byte ``c`` value (before hex encoding)."""
    _key("K2", k2)
    session_key = aes_cmac(k2, SV2_PREFIX + uid + counter.to_bytes(3, "little"))
    full = aes_cmac(session_key, b"")
    return full[1::2]


def sun_url(
    base: str, *, k1: bytes, k2: bytes, uid: bytes, counter: int, random5: bytes | None = None
) -> str:
    """``base`` is the card's LNURL-withdraw URL without query (``lnurlw://host/path``)."""
    p = encrypt_picc_data(k1, uid, counter, os.urandom(5) if random5 is None else random5)
    c = sun_mac(k2, uid, counter)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}p={p.hex().upper()}&c={c.hex().upper()}"


@dataclass
class BoltCard:
    """A card with its keys and counter. ``tap()`` returns the next SUN URL, as a real card does."""

    uid: bytes
    k1: bytes
    k2: bytes
    base: str = "lnurlw://card.example.com/ln"
    counter: int = 0
    history: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _key("K1", self.k1)
        _key("K2", self.k2)
        if len(self.uid) != 7:
            raise BoltCardError(f"an NTAG 424 UID is 7 bytes, got {len(self.uid)}")

    def tap(self) -> str:
        if self.counter >= COUNTER_MAX:
            raise BoltCardError("the card's SDM counter is exhausted")
        self.counter += 1
        url = sun_url(self.base, k1=self.k1, k2=self.k2, uid=self.uid, counter=self.counter)
        self.history.append(url)
        return url

    def replay(self, index: int = -1) -> str:
        """A URL this card already produced: what a skimmer would send again."""
        if not self.history:
            raise BoltCardError("the card has not been tapped yet; nothing to replay")
        return self.history[index]

    def with_wrong_keys(self) -> BoltCard:
        """The same UID and counter but keys the issuer does not know: a cloned or forged card."""
        return BoltCard(
            uid=self.uid,
            k1=bytes(b ^ 0x5A for b in self.k1),
            k2=bytes(b ^ 0xA5 for b in self.k2),
            base=self.base,
            counter=self.counter,
        )

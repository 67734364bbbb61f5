"""Bech32 (BIP173) and Bech32m (BIP350) strings, with or without the 90-character limit.

Written here rather than taken from a package because every failure must map to a precise
``PayloadError`` code (``mixed_case``, ``bad_char``, ``bad_checksum``...) and BOLT11 and
LNURL need the same codec without BIP173's length limit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from terminal.domain.payloads.errors import PayloadError

__all__ = ["CHARSET", "Variant", "convertbits", "decode", "encode"]

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV = {c: i for i, c in enumerate(CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Variant(enum.Enum):
    BECH32 = 1
    BECH32M = 0x2BC830A3


# _GEN folded for every value of the 5 bits shifted out, so each step is one table look-up
_TOP = tuple(
    (_GEN[0] if t & 1 else 0)
    ^ (_GEN[1] if t & 2 else 0)
    ^ (_GEN[2] if t & 4 else 0)
    ^ (_GEN[3] if t & 8 else 0)
    ^ (_GEN[4] if t & 16 else 0)
    for t in range(32)
)


def _polymod(values: Iterable[int]) -> int:
    chk = 1
    for v in values:
        chk = ((chk & 0x1FFFFFF) << 5) ^ v ^ _TOP[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def decode(
    text: str, *, max_length: int | None = 90, what: str = "bech32 string"
) -> tuple[str, list[int], Variant]:
    """Split and check a bech32/bech32m string: ``(hrp lower-case, 5-bit data without checksum, variant)``."""
    for ch in text:
        if not 33 <= ord(ch) <= 126:
            raise PayloadError("bad_char", f"{what} contains a character out of range ({ch!r})")
    if text.lower() != text and text.upper() != text:
        raise PayloadError("mixed_case", f"{what} mixes upper and lower case")
    if max_length is not None and len(text) > max_length:
        raise PayloadError("bad_length", f"{what} is longer than {max_length} characters")
    low = text.lower()
    pos = low.rfind("1")
    if pos < 0:
        raise PayloadError("bad_hrp", f"{what} has no separator '1'")
    if pos == 0:
        raise PayloadError("bad_hrp", f"{what} has an empty human-readable part")
    if pos + 7 > len(low):
        raise PayloadError("bad_checksum", f"{what} is too short to hold a checksum")
    hrp = low[:pos]
    rev = _CHARSET_REV
    try:
        data = [rev[ch] for ch in low[pos + 1 :]]
    except KeyError as exc:
        raise PayloadError(
            "bad_char", f"{what} contains {exc.args[0]!r}, which is not a bech32 character"
        ) from None
    const = _polymod(_hrp_expand(hrp) + data)
    for variant in Variant:
        if const == variant.value:
            return hrp, data[:-6], variant
    raise PayloadError("bad_checksum", f"{what} has a wrong checksum (a typo or a damaged code)")


def encode(hrp: str, data: Sequence[int], variant: Variant) -> str:
    values = _hrp_expand(hrp) + list(data)
    mod = _polymod([*values, 0, 0, 0, 0, 0, 0]) ^ variant.value
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in [*data, *checksum])


def convertbits(data: Iterable[int], frombits: int, tobits: int, *, pad: bool) -> list[int]:
    """Regroup bits; without ``pad`` the leftover must be fewer than ``frombits`` zero bits."""
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise PayloadError("bad_padding", "value out of range while regrouping bits")
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
        acc &= (1 << bits) - 1 if bits else 0
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise PayloadError("bad_padding", "the data has invalid padding")
    return out

"""Checking a refund destination a customer showed (an address or a payment URI) against the asset.

PENDING: the full payment-URI parsers (BIP21/BIP321, EIP-681 with EIP-55 checksums, Solana Pay,
BOLT11) are being built on the ``payloads`` branch; when they land, :func:`refund_destination`
should delegate to them. Until then this checks what can be checked with the standard library:
the URI scheme against the asset's network, Bitcoin bech32/bech32m (BIP-173/BIP-350) and base58check
checksums, the shape of Ethereum (0x + 40 hex) and Solana (base58 of 32 bytes) addresses.

Errors::

    AddressError (ValueError)       the destination is not valid for the asset; the message says why
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from terminal.domain.money import Asset


class AddressError(ValueError):
    pass


SCHEMES = {"bitcoin": "bitcoin", "lightning": "lightning", "ethereum": "ethereum", "solana": "solana"}
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        i = _B58.find(ch)
        if i < 0:
            raise AddressError(f"{ch!r} is not a base58 character")
        n = n * 58 + i
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + raw


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _check_bech32(addr: str) -> None:
    if addr.lower() != addr and addr.upper() != addr:
        raise AddressError("a bech32 address is either all lower or all upper case")
    a = addr.lower()
    hrp, sep, data = a.rpartition("1")
    if not sep or hrp not in ("bc", "tb", "bcrt") or len(data) < 6:
        raise AddressError("not a bech32 Bitcoin address")
    if hrp != "bc":
        raise AddressError(f"a {hrp!r} address is for a test network; this terminal refunds on mainnet")
    try:
        values = [_BECH32.index(c) for c in data]
    except ValueError:
        raise AddressError("a character that bech32 does not use") from None
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    const = _bech32_polymod(expanded + values)
    witness_version = values[0]
    # BIP-350: version 0 uses bech32 (1), later versions bech32m
    if const != (1 if witness_version == 0 else 0x2BC830A3):
        raise AddressError("the address checksum is wrong (a typo?)")


def _check_btc(addr: str) -> None:
    if addr.lower().startswith(("bc1", "tb1", "bcrt1")):
        _check_bech32(addr)
        return
    raw = _b58decode(addr)
    if len(raw) != 25:
        raise AddressError("not a Bitcoin address (wrong length)")
    if hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] != raw[21:]:
        raise AddressError("the address checksum is wrong (a typo?)")
    if raw[0] not in (0x00, 0x05):
        raise AddressError("not a mainnet Bitcoin address")


def _check_eth(addr: str) -> None:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", addr):
        raise AddressError("an Ethereum address is 0x and 40 hex digits")


def _check_sol(addr: str) -> None:
    if len(_b58decode(addr)) != 32:
        raise AddressError("a Solana address is 32 bytes in base58")


def refund_destination(text: str, crypto: Asset) -> str:
    """The address to refund to, from an address or a payment URI; raises AddressError."""
    raw = text.strip()
    if not raw:
        raise AddressError("no refund address given")
    if len(raw) > 2048:
        raise AddressError("the refund address is too long")
    scheme, sep, _ = raw.partition(":")
    addr = raw
    if sep and scheme.lower() in SCHEMES:
        if SCHEMES[scheme.lower()] != crypto.network:
            raise AddressError(f"a {scheme.lower()}: URI cannot receive a {crypto.code} refund")
        addr = urlsplit(raw).path if "//" not in raw else urlsplit(raw).netloc
        addr = addr.split("@", 1)[0]  # EIP-681: address@chain_id
    if crypto.network == "bitcoin":
        _check_btc(addr)
    elif crypto.network == "ethereum":
        _check_eth(addr.removeprefix("pay-"))
        addr = addr.removeprefix("pay-")
    elif crypto.network == "solana":
        _check_sol(addr)
    elif crypto.network == "lightning":
        if not addr.lower().startswith(("lnbc", "lnurl1")) and "@" not in addr:
            raise AddressError("a Lightning refund needs a BOLT11 invoice, an LNURL or a lightning address")
    else:
        raise AddressError(f"refunds in {crypto.code} are not supported")
    return addr

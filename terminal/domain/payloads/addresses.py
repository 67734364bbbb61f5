"""Bitcoin addresses, validated by their checksums: base58check (P2PKH, P2SH) and segwit
bech32 (BIP173, v0) / bech32m (BIP350, v1+).

The network comes from the version byte or the human-readable part: ``mainnet``,
``testnet`` (testnet, signet and testnet4 share their prefixes) or ``regtest`` (``bcrt``;
base58 regtest addresses are indistinguishable from testnet ones).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from terminal.domain.payloads import bech32
from terminal.domain.payloads.errors import PayloadError

__all__ = [
    "B58_ALPHABET",
    "BitcoinAddress",
    "b58decode",
    "b58decode_check",
    "b58encode",
    "b58encode_check",
    "encode_segwit",
    "parse_bitcoin_address",
]

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_REV = {c: i for i, c in enumerate(B58_ALPHABET)}

# version byte -> (network, kind)
_B58_VERSIONS = {
    0x00: ("mainnet", "p2pkh"),
    0x05: ("mainnet", "p2sh"),
    0x6F: ("testnet", "p2pkh"),
    0xC4: ("testnet", "p2sh"),
}
SEGWIT_HRPS = {"bc": "mainnet", "tb": "testnet", "bcrt": "regtest"}
HRP_BY_NETWORK = {v: k for k, v in SEGWIT_HRPS.items()}
_MAX_B58_LEN = 128  # far above any address; bounds the quadratic base conversion


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58_ALPHABET[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def b58decode(text: str, *, what: str = "base58 string") -> bytes:
    if not text:
        raise PayloadError("bad_address", f"{what} is empty")
    if len(text) > _MAX_B58_LEN:
        raise PayloadError("bad_length", f"{what} is too long")
    n = 0
    for ch in text:
        v = _B58_REV.get(ch)
        if v is None:
            raise PayloadError("bad_char", f"{what} contains {ch!r}, which is not a base58 character")
        n = n * 58 + v
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def b58encode_check(payload: bytes) -> str:
    return b58encode(payload + _checksum(payload))


def b58decode_check(text: str, *, what: str = "base58check string") -> bytes:
    raw = b58decode(text, what=what)
    if len(raw) < 5:
        raise PayloadError("bad_length", f"{what} is too short")
    payload, check = raw[:-4], raw[-4:]
    if _checksum(payload) != check:
        raise PayloadError("bad_checksum", f"{what} has a wrong checksum (a typo or a damaged code)")
    return payload


@dataclass(frozen=True, slots=True)
class BitcoinAddress:
    """A validated address. ``kind``: p2pkh, p2sh, p2wpkh, p2wsh, p2tr or ``witness_v{n}``."""

    address: str
    network: str
    kind: str
    witness_version: int | None
    program: bytes  # hash160 for base58, the witness program for segwit

    def script_pubkey(self) -> bytes:
        if self.kind == "p2pkh":
            return b"\x76\xa9\x14" + self.program + b"\x88\xac"
        if self.kind == "p2sh":
            return b"\xa9\x14" + self.program + b"\x87"
        assert self.witness_version is not None
        op = 0 if self.witness_version == 0 else 0x50 + self.witness_version
        return bytes([op, len(self.program)]) + self.program


def decode_segwit(text: str, *, hrp_expected: str | None = None) -> tuple[str, int, bytes]:
    """``(hrp, witness version, program)`` of a segwit address, every BIP173/350 rule applied."""
    hrp, data, variant = bech32.decode(text, what="segwit address")
    if hrp_expected is not None and hrp != hrp_expected:
        raise PayloadError("bad_hrp", f"segwit address prefix {hrp!r} is not {hrp_expected!r}")
    if not data:
        raise PayloadError("bad_length", "segwit address has an empty data part")
    version = data[0]
    if version > 16:
        raise PayloadError("bad_witness_version", f"witness version {version} does not exist (0-16)")
    program = bytes(bech32.convertbits(data[1:], 5, 8, pad=False))
    if not 2 <= len(program) <= 40:
        raise PayloadError("bad_length", f"witness program of {len(program)} bytes (must be 2-40)")
    if version == 0 and len(program) not in (20, 32):
        raise PayloadError("bad_length", f"a v0 witness program is 20 or 32 bytes, not {len(program)}")
    want = bech32.Variant.BECH32 if version == 0 else bech32.Variant.BECH32M
    if variant is not want:
        raise PayloadError(
            "bad_checksum",
            f"segwit v{version} needs a {want.name.lower()} checksum, this one is {variant.name.lower()}",
        )
    return hrp, version, program


def encode_segwit(hrp: str, version: int, program: bytes) -> str:
    variant = bech32.Variant.BECH32 if version == 0 else bech32.Variant.BECH32M
    return bech32.encode(hrp, [version, *bech32.convertbits(program, 8, 5, pad=True)], variant)


def _segwit_kind(version: int, program: bytes) -> str:
    if version == 0:
        return "p2wpkh" if len(program) == 20 else "p2wsh"
    if version == 1 and len(program) == 32:
        return "p2tr"
    return f"witness_v{version}"


def parse_bitcoin_address(text: str, *, network: str | None = None) -> BitcoinAddress:
    """Validate an on-chain address. ``network`` (mainnet/testnet/regtest) restricts it."""
    if not text:
        raise PayloadError("bad_address", "the bitcoin address is empty")
    low = text.lower()
    sep = low.rfind("1")
    if sep > 0 and low[:sep] in SEGWIT_HRPS:
        hrp, version, program = decode_segwit(text)
        net = SEGWIT_HRPS[hrp]
        addr = BitcoinAddress(low, net, _segwit_kind(version, program), version, program)
    elif (
        sep > 0
        and text[0].isalpha()
        and text[:sep].isalpha()
        and len(text) - sep >= 7
        and all(c in bech32.CHARSET for c in low[sep + 1 :])
        and not all(c in _B58_REV for c in text)
    ):
        # bech32-shaped with an unknown prefix: say so rather than "bad base58"
        raise PayloadError("bad_hrp", f"{low[:sep]!r} is not a bitcoin address prefix (bc, tb, bcrt)")
    else:
        payload = b58decode_check(text, what="bitcoin address")
        if len(payload) != 21:
            raise PayloadError("bad_length", f"a base58 address holds 21 bytes, this one {len(payload)}")
        info = _B58_VERSIONS.get(payload[0])
        if info is None:
            raise PayloadError("bad_address", f"version byte 0x{payload[0]:02x} is not a bitcoin address")
        addr = BitcoinAddress(text, info[0], info[1], None, payload[1:])
    if (
        network is not None
        and addr.network != network
        and not (addr.witness_version is None and {network, addr.network} == {"testnet", "regtest"})
    ):
        raise PayloadError("wrong_network", f"address is for bitcoin {addr.network}, expected {network}")
    return addr

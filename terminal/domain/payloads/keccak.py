"""Keccak-256 as Ethereum uses it (EIP-55 address checksums), in pure Python.

``hashlib`` has SHA3-256, which is the same permutation with a different padding byte (0x06
where the original Keccak that Ethereum froze uses 0x01), and no Keccak-256. pycryptodome has
it, but its import goes through cffi, which parses C declarations with pycparser on every start
(~100 ms on a quiet machine, several times that on a busy one): more than all the rest of
``cryptopos parse``. A checksum hashes 40 characters, one block: one Keccak-f[1600] permutation,
well under a millisecond here (docs/decisions.md, "Keccak in pure Python"). The tests check
this module against hashlib's SHA3 (same permutation, every length around the block size),
against pycryptodome's Keccak, and against published vectors.

The permutation follows FIPS 202 section 3.2 with the state as 25 lanes of 64 bits,
``lane[x + 5*y]``; the rotation offsets and round constants are computed from the standard's
own rules below rather than copied as tables.
"""

from __future__ import annotations

__all__ = ["keccak256"]

_MASK = (1 << 64) - 1
_RATE = 136  # bytes: 1600 - 2 * 256 bits of capacity


def _round_constants() -> tuple[int, ...]:
    """FIPS 202 algorithm 5 (rc) and 6 (iota): bit 2**j - 1 of round i's constant is rc(j + 7i)."""
    out = []
    r = 1  # the LFSR x**8 + x**6 + x**5 + x**4 + 1, its state as bits 0..7
    for _ in range(24):
        constant = 0
        for j in range(7):
            if r & 1:
                constant |= 1 << ((1 << j) - 1)
            r = ((r << 1) ^ 0x171) if r & 0x80 else (r << 1)
        out.append(constant)
    return tuple(out)


def _rho_pi() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Rotation of each lane (rho, FIPS 202 algorithm 2) and where pi moves it: (x, y) -> (y, 2x + 3y)."""
    rotation = [0] * 25
    x, y = 1, 0
    for t in range(24):
        rotation[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    destination = [y + 5 * ((2 * x + 3 * y) % 5) for y in range(5) for x in range(5)]
    return tuple(rotation), tuple(destination)


_RC = _round_constants()
_ROT, _DEST = _rho_pi()
_COLUMN = tuple(i % 5 for i in range(25))


def _permute(a: list[int]) -> None:
    """Keccak-f[1600] on the 25 lanes, in place."""
    rot, dest, column, mask = _ROT, _DEST, _COLUMN, _MASK
    b = [0] * 25
    for rc in _RC:
        # theta: each lane gets the parity of two neighbouring columns
        c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
        c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
        c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
        c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
        c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
        d = (
            c4 ^ (((c1 << 1) | (c1 >> 63)) & mask),
            c0 ^ (((c2 << 1) | (c2 >> 63)) & mask),
            c1 ^ (((c3 << 1) | (c3 >> 63)) & mask),
            c2 ^ (((c4 << 1) | (c4 >> 63)) & mask),
            c3 ^ (((c0 << 1) | (c0 >> 63)) & mask),
        )
        # rho and pi: rotate each lane and move it
        for i in range(25):
            v = a[i] ^ d[column[i]]
            r = rot[i]
            b[dest[i]] = ((v << r) | (v >> (64 - r))) & mask
        # chi along each row, then iota
        for y in (0, 5, 10, 15, 20):
            b0, b1, b2, b3, b4 = b[y], b[y + 1], b[y + 2], b[y + 3], b[y + 4]
            a[y] = b0 ^ (~b1 & b2)
            a[y + 1] = b1 ^ (~b2 & b3)
            a[y + 2] = b2 ^ (~b3 & b4)
            a[y + 3] = b3 ^ (~b4 & b0)
            a[y + 4] = b4 ^ (~b0 & b1)
        a[0] ^= rc


def sponge(data: bytes, *, rate: int, suffix: int, length: int) -> bytes:
    """The Keccak sponge: ``suffix`` is the domain byte padding starts with (Keccak 0x01, SHA-3
    0x06); ``length`` bytes of output, at most ``rate``."""
    padded = bytearray(data)
    padded.append(suffix)
    padded.extend(bytes(-len(padded) % rate))
    padded[-1] |= 0x80
    state = [0] * 25
    for start in range(0, len(padded), rate):
        block = padded[start : start + rate]
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(block[8 * i : 8 * i + 8], "little")
        _permute(state)
    return b"".join(lane.to_bytes(8, "little") for lane in state[: (length + 7) // 8])[:length]


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the original padding, as in Ethereum): 32 bytes."""
    return sponge(data, rate=_RATE, suffix=0x01, length=32)

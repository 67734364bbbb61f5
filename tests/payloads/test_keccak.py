"""The pure-Python Keccak behind EIP-55: published vectors, hashlib's SHA-3 (the same permutation
with SHA-3's padding) at every length around the block size, and pycryptodome's Keccak-256."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak

from terminal.domain.payloads.keccak import keccak256, sponge

# Keccak-256 as Ethereum uses it (the Keccak team's original padding)
VECTORS = [
    (b"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
    (b"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
    (
        b"The quick brown fox jumps over the lazy dog",
        "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15",
    ),
]


@pytest.mark.parametrize(("data", "digest"), VECTORS)
def test_published_vectors(data: bytes, digest: str) -> None:
    assert keccak256(data).hex() == digest


def test_it_is_not_sha3() -> None:
    # the padding byte is what tells them apart: a hashlib substitute would pass no vector above
    assert keccak256(b"") != hashlib.sha3_256(b"").digest()


# lengths around one and two blocks of each rate (136 bytes for 256-bit output, 72 for 512)
LENGTHS = sorted({*range(150), *range(260, 280), 406, 407, 408, 409, 1000})


@pytest.mark.parametrize(
    ("rate", "length", "reference"),
    [(136, 32, hashlib.sha3_256), (72, 64, hashlib.sha3_512), (144, 28, hashlib.sha3_224)],
)
def test_the_permutation_matches_hashlibs_sha3(
    rate: int, length: int, reference: Callable[[bytes], Any]
) -> None:
    rng = random.Random(rate)
    for n in LENGTHS:
        data = rng.randbytes(n)
        assert sponge(data, rate=rate, suffix=0x06, length=length) == reference(data).digest(), n


def test_keccak256_matches_pycryptodome() -> None:
    rng = random.Random(55)
    for n in [*range(300), 5000]:
        data = rng.randbytes(n)
        assert keccak256(data) == pycryptodome_keccak.new(data=data, digest_bits=256).digest(), n

"""Cashier PINs as salted scrypt hashes."""

from __future__ import annotations

import base64

import pytest

from terminal.domain.pins import SCRYPT_N, PinHashError, hash_pin, verify_pin
from tests.support import shows


def test_a_hash_verifies_its_pin_only_and_is_salted() -> None:
    stored = hash_pin("2468")
    assert stored.startswith(f"scrypt${SCRYPT_N}$8$1$") and not shows("2468", stored)
    assert verify_pin("2468", stored)
    assert not verify_pin("2469", stored) and not verify_pin("24680", stored)
    assert hash_pin("2468") != stored  # a fresh salt each time
    assert hash_pin("2468", salt=b"s" * 16) == hash_pin("2468", salt=b"s" * 16)


def test_stored_hashes_this_till_cannot_trust_are_refused() -> None:
    good = hash_pin("2468").split("$")
    weak = "$".join([good[0], "1024", *good[2:]])
    with pytest.raises(PinHashError, match="outside what this"):
        verify_pin("2468", weak)
    short_salt = "$".join([*good[:4], base64.b64encode(b"x" * 8).decode(), good[5]])
    with pytest.raises(PinHashError, match="outside what this"):
        verify_pin("2468", short_salt)
    for bad in ("", "plain", "scrypt$x$8$1$aa$bb", "bcrypt$1$2$3$4$5"):
        with pytest.raises(PinHashError) as caught:
            verify_pin("2468", bad)
        assert bad not in str(caught.value) or not bad

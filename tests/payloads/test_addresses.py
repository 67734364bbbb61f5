"""Bech32/Bech32m strings and segwit/base58 addresses: the BIP173 and BIP350 test vectors, verbatim.

Sources: bitcoin/bips bip-0173.mediawiki "Test vectors" and bip-0350.mediawiki "Test vectors".
"""

from __future__ import annotations

import pytest

from terminal.domain.payloads import PayloadError, bech32
from terminal.domain.payloads.addresses import (
    b58encode_check,
    encode_segwit,
    parse_bitcoin_address,
)

# BIP173: "The following strings are valid Bech32"
BECH32_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
# BIP350: "The following strings are valid Bech32m"
BECH32M_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
# BIP173 invalid Bech32 (string, reason in the BIP, our code)
BECH32_INVALID = [
    ("\x201nwldj5", "HRP character out of range", "bad_char"),
    ("\x7f1axkwrx", "HRP character out of range", "bad_char"),
    ("\x801eym55h", "HRP character out of range", "bad_char"),
    (
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
        "overall max length exceeded",
        "bad_length",
    ),
    ("pzry9x0s0muk", "No separator character", "bad_hrp"),
    ("1pzry9x0s0muk", "Empty HRP", "bad_hrp"),
    ("x1b4n0q5v", "Invalid data character", "bad_char"),
    ("li1dgmt3", "Too short checksum", "bad_checksum"),
    ("de1lg7wt\xff", "Invalid character in checksum", "bad_char"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP", "bad_checksum"),
    ("10a06t8", "empty HRP", "bad_hrp"),
    ("1qzzfhee", "empty HRP", "bad_hrp"),
]
# BIP350 invalid Bech32m
BECH32M_INVALID = [
    ("\x201xj0phk", "HRP character out of range", "bad_char"),
    ("\x7f1g6xzxy", "HRP character out of range", "bad_char"),
    ("\x801vctc34", "HRP character out of range", "bad_char"),
    (
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
        "overall max length exceeded",
        "bad_length",
    ),
    ("qyrz8wqd2c9m", "No separator character", "bad_hrp"),
    ("1qyrz8wqd2c9m", "Empty HRP", "bad_hrp"),
    ("y1b0jsk6g", "Invalid data character", "bad_char"),
    ("lt1igcx5c0", "Invalid data character", "bad_char"),
    ("in1muywd", "Too short checksum", "bad_checksum"),
    ("mm1crxm3i", "Invalid character in checksum", "bad_char"),
    ("au1s5cgom", "Invalid character in checksum", "bad_char"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP", "bad_checksum"),
    ("16plkw9", "empty HRP", "bad_hrp"),
    ("1p2gdwpf", "empty HRP", "bad_hrp"),
]

# BIP350 valid segwit addresses -> scriptPubKey (supersedes BIP173's list, whose v1+ entries used bech32)
SEGWIT_VALID = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6", "mainnet"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        "testnet",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
        "mainnet",
    ),
    ("BC1SW50QGDZ25J", "6002751e", "mainnet"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323", "mainnet"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
        "testnet",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
        "testnet",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "mainnet",
    ),
]

# BIP350 invalid segwit addresses, then BIP173's (its v1+ bech32 "valid" ones are invalid since BIP350)
SEGWIT_INVALID = [
    (
        "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
        "Invalid human-readable part",
        "bad_hrp",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
        "Bech32 instead of Bech32m",
        "bad_checksum",
    ),
    (
        "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
        "Bech32 instead of Bech32m",
        "bad_checksum",
    ),
    (
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
        "Bech32 instead of Bech32m",
        "bad_checksum",
    ),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "Bech32m instead of Bech32", "bad_checksum"),
    (
        "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
        "Bech32m instead of Bech32",
        "bad_checksum",
    ),
    (
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
        "Invalid character in checksum",
        "bad_char",
    ),
    (
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
        "Invalid witness version",
        "bad_witness_version",
    ),
    ("bc1pw5dgrnzv", "Invalid program length (1 byte)", "bad_length"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "Invalid program length (41 bytes)",
        "bad_length",
    ),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "Invalid program length for witness version 0", "bad_length"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "Mixed case", "mixed_case"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
        "zero padding of more than 4 bits",
        "bad_padding",
    ),
    (
        "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
        "Non-zero padding in 8-to-5",
        "bad_padding",
    ),
    ("bc1gmk9yu", "Empty data section", "bad_length"),
    # BIP173's list
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "Invalid human-readable part", "bad_hrp"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "Invalid checksum", "bad_checksum"),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "Invalid witness version", "bad_witness_version"),
    ("bc1rw5uspcuh", "Invalid program length", "bad_length"),
    (
        "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
        "Invalid program length",
        "bad_length",
    ),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "Invalid program length for witness version 0", "bad_length"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "Mixed case", "mixed_case"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "zero padding of more than 4 bits", "bad_padding"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
        "Non-zero padding in 8-to-5",
        "bad_padding",
    ),
    ("bc1gmk9yu", "Empty data section", "bad_length"),
    # BIP173 listed these v1/v16/v2 addresses as valid with bech32 checksums; BIP350 makes them invalid
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
        "v1 with a bech32 checksum",
        "bad_checksum",
    ),
    ("BC1SW50QA3JX3S", "v16 with a bech32 checksum", "bad_checksum"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj", "v2 with a bech32 checksum", "bad_checksum"),
]


@pytest.mark.parametrize("text", BECH32_VALID)
def test_bip173_valid_bech32(text: str) -> None:
    hrp, data, variant = bech32.decode(text)
    assert variant is bech32.Variant.BECH32
    assert bech32.encode(hrp, data, variant) == text.lower()


@pytest.mark.parametrize("text", BECH32M_VALID)
def test_bip350_valid_bech32m(text: str) -> None:
    hrp, data, variant = bech32.decode(text)
    assert variant is bech32.Variant.BECH32M
    assert bech32.encode(hrp, data, variant) == text.lower()


@pytest.mark.parametrize(("text", "reason", "code"), BECH32_INVALID + BECH32M_INVALID)
def test_invalid_bech32_strings(text: str, reason: str, code: str) -> None:
    with pytest.raises(PayloadError) as exc:
        bech32.decode(text)
    assert exc.value.code == code, reason


@pytest.mark.parametrize(("address", "script", "network"), SEGWIT_VALID)
def test_valid_segwit_addresses(address: str, script: str, network: str) -> None:
    addr = parse_bitcoin_address(address)
    assert addr.script_pubkey().hex() == script
    assert addr.network == network
    assert addr.address == address.lower()
    assert addr.witness_version is not None
    assert encode_segwit({"mainnet": "bc", "testnet": "tb"}[network], addr.witness_version, addr.program) == (
        address.lower()
    )


@pytest.mark.parametrize(("address", "reason", "code"), SEGWIT_INVALID)
def test_invalid_segwit_addresses(address: str, reason: str, code: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_bitcoin_address(address)
    assert exc.value.code == code, reason


def test_segwit_kinds_and_regtest() -> None:
    assert parse_bitcoin_address("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").kind == "p2wpkh"
    assert parse_bitcoin_address(SEGWIT_VALID[1][0]).kind == "p2wsh"
    assert parse_bitcoin_address(SEGWIT_VALID[-1][0]).kind == "p2tr"
    assert parse_bitcoin_address("BC1SW50QGDZ25J").kind == "witness_v16"
    reg = encode_segwit("bcrt", 0, bytes(range(20)))
    assert parse_bitcoin_address(reg).network == "regtest"
    with pytest.raises(PayloadError) as exc:
        parse_bitcoin_address(reg, network="mainnet")
    assert exc.value.code == "wrong_network"


# Base58 addresses from the BOLT11 examples (lightning/bolts 11-payment-encoding.md) and the
# Bitcoin wiki's P2PKH example; their hash160s are the ones BOLT11 encodes in its `f` fields.
BASE58_VALID = [
    ("1RustyRX2oai4EYYDpQGWvEL62BBGqN9T", "mainnet", "p2pkh", "04b61f7dc1ea0dc99424464cc4064dc564d91e89"),
    ("mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP", "testnet", "p2pkh", "3172b5654f6683c8fb146959d347ce303cae4ca7"),
    ("3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX", "mainnet", "p2sh", "8f55563b9a19f321c211e9b9f38cdf686ea07845"),
]


@pytest.mark.parametrize(("address", "network", "kind", "h160"), BASE58_VALID)
def test_base58_addresses(address: str, network: str, kind: str, h160: str) -> None:
    addr = parse_bitcoin_address(address)
    assert (addr.network, addr.kind, addr.program.hex()) == (network, kind, h160)


def test_base58_versions_and_errors() -> None:
    h = bytes(range(20))
    assert parse_bitcoin_address(b58encode_check(b"\xc4" + h)).kind == "p2sh"
    assert parse_bitcoin_address(b58encode_check(b"\xc4" + h)).network == "testnet"
    # a Litecoin-style version byte (0x30) is a valid base58check string but not a bitcoin address
    with pytest.raises(PayloadError) as exc:
        parse_bitcoin_address(b58encode_check(b"\x30" + h))
    assert exc.value.code == "bad_address"
    with pytest.raises(PayloadError) as exc:
        parse_bitcoin_address(b58encode_check(b"\x00" + h + b"\x00"))
    assert exc.value.code == "bad_length"
    # one character changed: the checksum catches it
    with pytest.raises(PayloadError) as exc:
        parse_bitcoin_address("1RustyRX2oai4EYYDpQGWvEL62BBGqN9U")
    assert exc.value.code == "bad_checksum"
    with pytest.raises(PayloadError) as exc:
        parse_bitcoin_address("1RustyRX2oai4EYYDpQGWvEL62BBGqN0T")  # '0' is not base58
    assert exc.value.code == "bad_char"

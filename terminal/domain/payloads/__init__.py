"""Payment payloads a crypto terminal meets, parsed to the letter of their specs and built.

One entry point classifies any scanned or tapped string::

    parse_payload(text, now=...) -> Payload        # a frozen dataclass, ``.kind`` says which
    payload_to_json(payload) -> dict               # what ``cryptopos parse --json`` prints

=====================  ====================================================  ==================
kind                   recognised by                                          module
=====================  ====================================================  ==================
bitcoin                ``bitcoin:`` (BIP21/BIP321) or a bare address         bitcoin, addresses
ethereum               ``ethereum:`` (EIP-681)                               ethereum
solana_transfer        ``solana:<recipient>``                                solana
solana_transaction     ``solana:<https link>``                               solana
bolt11                 ``ln...`` / ``lightning:ln...``                        bolt11
lnurl                  ``LNURL1...``, ``lnurlw/p/c://``, ``keyauth://``,      lnurl
                       ``https://...?lightning=LNURL1...``
boltcard               ``lnurlw://...?p=<32 hex>&c=<16 hex>``                boltcard
wallet_token           ``CPT1:...``                                          wallet_token
ndef                   ``ndef:<hex octets>``                                 ndef
=====================  ====================================================  ==================

Pure code: no I/O, no clock (``now`` is an argument). One module per format.

Errors::

    PayloadError (ValueError)     every rejection; ``code`` is stable, ``message`` is for people

Anything else escaping ``parse_payload`` is a bug (the fuzz tests look for it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, TypeAlias

from terminal.domain.payloads.errors import PayloadError

if TYPE_CHECKING:
    from terminal.domain.money import Money
    from terminal.domain.payloads.addresses import BitcoinAddress, parse_bitcoin_address
    from terminal.domain.payloads.bitcoin import BitcoinUri, build_bip21
    from terminal.domain.payloads.bolt11 import Bolt11Invoice, decode_bolt11, encode_bolt11
    from terminal.domain.payloads.boltcard import BoltCardTap, SunResult, verify_sun
    from terminal.domain.payloads.ethereum import EthereumRequest, build_eip681
    from terminal.domain.payloads.lnurl import Lnurl
    from terminal.domain.payloads.ndef import NdefMessage
    from terminal.domain.payloads.solana import (
        SolanaTransaction,
        SolanaTransfer,
        build_solana_pay,
    )
    from terminal.domain.payloads.wallet_token import WalletToken, decode_token, sign_token, verify_token

    Payload: TypeAlias = (
        BitcoinUri
        | EthereumRequest
        | SolanaTransfer
        | SolanaTransaction
        | Bolt11Invoice
        | Lnurl
        | BoltCardTap
        | WalletToken
        | NdefMessage
    )

# Each format's module (and the library it needs: coincurve for BOLT11, cryptography for Bolt
# Cards and wallet tokens, ndeflib, keccak for EIP-55, idna for international hosts) is imported
# when a payload of that format is parsed or one of its names is first used, so `cryptopos
# parse bitcoin:...` loads the bitcoin parser alone. These are the lazily exported names.
_EXPORTS = {
    "BitcoinAddress": "addresses",
    "parse_bitcoin_address": "addresses",
    "BitcoinUri": "bitcoin",
    "build_bip21": "bitcoin",
    "Bolt11Invoice": "bolt11",
    "decode_bolt11": "bolt11",
    "encode_bolt11": "bolt11",
    "BoltCardTap": "boltcard",
    "SunResult": "boltcard",
    "verify_sun": "boltcard",
    "EthereumRequest": "ethereum",
    "build_eip681": "ethereum",
    "Lnurl": "lnurl",
    "NdefMessage": "ndef",
    "SolanaTransaction": "solana",
    "SolanaTransfer": "solana",
    "build_solana_pay": "solana",
    "WalletToken": "wallet_token",
    "decode_token": "wallet_token",
    "sign_token": "wallet_token",
    "verify_token": "wallet_token",
}


def __getattr__(name: str) -> Any:
    if name == "Payload":
        return _payload_union()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup does not come here
    return value


def _payload_union() -> Any:
    """``Payload`` at run time (for ``get_type_hints`` and the like): imports every format."""
    from functools import reduce
    from operator import or_

    kinds = [
        "BitcoinUri",
        "EthereumRequest",
        "SolanaTransfer",
        "SolanaTransaction",
        "Bolt11Invoice",
        "Lnurl",
        "BoltCardTap",
        "WalletToken",
        "NdefMessage",
    ]
    return reduce(or_, (__getattr__(k) for k in kinds))


__all__ = [
    "MAX_PAYLOAD_CHARS",
    "BitcoinAddress",
    "BitcoinUri",
    "Bolt11Invoice",
    "BoltCardTap",
    "EthereumRequest",
    "Lnurl",
    "NdefMessage",
    "Payload",
    "PayloadError",
    "SolanaTransaction",
    "SolanaTransfer",
    "SunResult",
    "WalletToken",
    "build_bip21",
    "build_eip681",
    "build_solana_pay",
    "decode_bolt11",
    "decode_token",
    "encode_bolt11",
    "parse_bitcoin_address",
    "parse_ndef",
    "parse_payload",
    "payload_money",
    "payload_to_json",
    "sign_token",
    "verify_sun",
    "verify_token",
]

# A QR code holds at most 7,089 digits / 4,296 alphanumerics; an NDEF message written as hex
# can be longer. Anything beyond this is not a payment payload.
MAX_PAYLOAD_CHARS = 16_384


def parse_payload(text: str, *, now: float | None = None) -> Payload:
    """Classify and parse one scanned string. ``now`` (epoch seconds) fills ``expired`` fields."""
    if not isinstance(text, str):
        raise PayloadError("unrecognised", f"a payload is text, not {type(text).__name__}")
    text = text.strip()
    if not text:
        raise PayloadError("empty", "the payload is empty")
    if len(text) > MAX_PAYLOAD_CHARS:
        raise PayloadError(
            "too_long", f"the payload is {len(text)} characters; no payment format is that long"
        )
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower() if sep and scheme.isascii() else ""
    if scheme == "bitcoin":
        from terminal.domain.payloads.bitcoin import parse_bitcoin_uri

        return parse_bitcoin_uri(text)
    if scheme == "ethereum":
        from terminal.domain.payloads.ethereum import parse_eip681

        return parse_eip681(text)
    if scheme == "solana":
        from terminal.domain.payloads.solana import parse_solana_pay

        return parse_solana_pay(text)
    if scheme == "lightning":
        return _parse_lightning(rest, now=now)
    if scheme == "lnurlw":
        from terminal.domain.payloads.boltcard import parse_card_tap

        tap = parse_card_tap(text)
        if tap is not None:
            return tap
    from terminal.domain.payloads.lnurl import LUD17_SCHEMES, parse_lnurl

    if scheme in LUD17_SCHEMES or scheme == "https":
        return parse_lnurl(text)
    if scheme == "cpt1":
        from terminal.domain.payloads.wallet_token import decode_token

        return decode_token(text, now=now)
    if scheme == "ndef":
        from terminal.domain.payloads.ndef import parse_ndef_hex

        return parse_ndef_hex(text, parse_inner=lambda inner: parse_payload(inner, now=now))
    if scheme == "http":
        raise PayloadError("unsupported_scheme", "a plain http link is not a payment code")
    if not sep or not scheme:
        return _parse_bare(text, now=now)
    raise PayloadError(
        "unsupported_scheme", f"{scheme[:20]!r} codes are not payment codes this terminal reads"
    )


def _parse_lightning(rest: str, *, now: float | None) -> Payload:
    from terminal.domain.payloads.bolt11 import decode_bolt11, looks_like_bolt11
    from terminal.domain.payloads.lnurl import parse_lnurl

    if rest[:6].lower() == "lnurl1":
        return parse_lnurl(rest)
    if looks_like_bolt11(rest):
        return decode_bolt11(rest, now=now)
    raise PayloadError("unrecognised", "lightning: is followed by neither an invoice nor an LNURL")


_ADDRESS_ERRORS = ("bad_checksum", "mixed_case", "bad_witness_version", "bad_padding")


def _parse_bare(text: str, *, now: float | None) -> Payload:
    """A string without a scheme: an invoice, an LNURL, or an address (bitcoin, ethereum, solana)."""
    from terminal.domain.payloads.addresses import parse_bitcoin_address
    from terminal.domain.payloads.bitcoin import BitcoinUri
    from terminal.domain.payloads.bolt11 import decode_bolt11, looks_like_bolt11
    from terminal.domain.payloads.lnurl import parse_lnurl
    from terminal.domain.payloads.solana import SolanaTransfer, parse_solana_pubkey

    low = text[:6].lower()
    if low == "lnurl1":
        return parse_lnurl(text)
    if looks_like_bolt11(text):
        return decode_bolt11(text, now=now)
    if low.startswith("0x"):
        from terminal.domain.payloads.ethereum import EthereumRequest, parse_eth_address

        return EthereumRequest(target=parse_eth_address(text))
    try:
        # a base58 32-byte key is a Solana address; a bitcoin base58 address holds 25 bytes
        return SolanaTransfer(recipient=parse_solana_pubkey(text, what="Solana address"))
    except PayloadError:
        pass
    try:
        addr = parse_bitcoin_address(text)
    except PayloadError as exc:
        if exc.code in _ADDRESS_ERRORS:
            raise
        if exc.code in ("bad_length", "bad_hrp") and text[:3].lower() in ("bc1", "tb1", "bcr"):
            raise
        raise PayloadError("unrecognised", "not a payment code this terminal knows") from None
    return BitcoinUri(address=addr, network=addr.network)


def parse_ndef(data: bytes, *, strict: bool = True, now: float | None = None) -> NdefMessage:
    """Decode NDEF octets from a tag or phone; ``content`` is the payment payload inside, if any."""
    from terminal.domain.payloads import ndef as _ndef

    return _ndef.parse_ndef(data, strict=strict, parse_inner=lambda inner: parse_payload(inner, now=now))


def payload_money(payload: Payload) -> Money | None:
    """The amount a payload asks for as ``Money`` (minor units of a known asset), or None."""
    from terminal.domain.money import Money, asset

    j = payload.to_json()
    if j["asset"] is None or j["amount_minor"] is None:
        return None
    return Money(int(j["amount_minor"]), asset(j["asset"]))


def payload_to_json(payload: Payload) -> dict[str, Any]:
    """``kind``, ``network``, ``asset``, ``amount``, ``amount_minor`` and the format's own fields."""
    return {"kind": payload.kind, **payload.to_json()}

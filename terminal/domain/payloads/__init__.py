"""Payment payloads a crypto terminal meets, parsed to the letter of their specs and built.

One entry point classifies any scanned or tapped string::

    parse_payload(text, now=...) -> Payload        # a frozen dataclass, ``.kind`` says which
    payload_to_json(payload) -> dict               # what ``cryptopos parse --json`` prints

Pure code: no I/O, no clock (``now`` is an argument). One module per format.

Errors::

    PayloadError (ValueError)     every rejection; ``code`` is stable, ``message`` is for people

Anything else escaping ``parse_payload`` is a bug (the fuzz tests look for it).
"""

from __future__ import annotations

from typing import Any

from terminal.domain.payloads.addresses import BitcoinAddress, parse_bitcoin_address
from terminal.domain.payloads.bitcoin import BitcoinUri, build_bip21, parse_bitcoin_uri
from terminal.domain.payloads.bolt11 import Bolt11Invoice, decode_bolt11, encode_bolt11, looks_like_bolt11
from terminal.domain.payloads.boltcard import BoltCardTap, SunResult, parse_card_tap, verify_sun
from terminal.domain.payloads.errors import PayloadError

__all__ = [
    "MAX_PAYLOAD_CHARS",
    "BitcoinAddress",
    "BitcoinUri",
    "Bolt11Invoice",
    "BoltCardTap",
    "Payload",
    "PayloadError",
    "SunResult",
    "build_bip21",
    "decode_bolt11",
    "encode_bolt11",
    "parse_bitcoin_address",
    "parse_payload",
    "payload_to_json",
    "verify_sun",
]

Payload = BitcoinUri | Bolt11Invoice | BoltCardTap

# A QR code holds at most 7,089 digits / 4,296 alphanumerics; an NDEF message read as hex
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
    scheme, sep, _ = text.partition(":")
    scheme = scheme.lower() if sep else ""
    if scheme == "bitcoin":
        return parse_bitcoin_uri(text)
    if scheme == "lightning":
        return _parse_lightning(text[len("lightning:") :], now=now)
    if scheme == "lnurlw":
        tap = parse_card_tap(text)
        if tap is not None:
            return tap
    if not scheme:
        return _parse_bare(text, now=now)
    raise PayloadError("unsupported_scheme", f"{scheme!r} payloads are not supported")


def _parse_lightning(text: str, *, now: float | None) -> Payload:
    if looks_like_bolt11(text):
        return decode_bolt11(text, now=now)
    raise PayloadError("unrecognised", "lightning: is followed by neither an invoice nor an LNURL")


def _parse_bare(text: str, *, now: float | None) -> Payload:
    if looks_like_bolt11(text):
        return decode_bolt11(text, now=now)
    try:
        addr = parse_bitcoin_address(text)
    except PayloadError as exc:
        if exc.code in ("bad_checksum", "mixed_case", "bad_witness_version", "bad_padding", "bad_length"):
            raise
        raise PayloadError("unrecognised", "not a payment code this terminal knows") from None
    return BitcoinUri(address=addr, network=addr.network)


def payload_to_json(payload: Payload) -> dict[str, Any]:
    """``kind``, ``network``, ``asset``, ``amount``, ``amount_minor`` and the format's own fields."""
    return {"kind": payload.kind, **payload.to_json()}

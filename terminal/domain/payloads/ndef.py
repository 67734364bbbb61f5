"""NDEF messages read from NFC tags and phones, decoded with ndeflib.

URI records use the NFC Forum URI RTD prefix table (codes 0x00-0x23: ``http://www.``,
``https://``, ``tel:`` ...); a code above 0x23 is an error in strict mode (the default) and
means "no prefix" otherwise. Text records yield their text and language. The first URI or
text record that is itself a payment payload becomes the message's ``content``.

On the text side an NDEF message is written ``ndef:`` + hex octets (the CLI and tests use it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ndef as ndeflib

from terminal.domain.payloads.errors import PayloadError

__all__ = ["URI_PREFIXES", "NdefMessage", "NdefRecord", "encode_uri_message", "parse_ndef", "parse_ndef_hex"]

MAX_NDEF_OCTETS = 8192  # an NTAG 424 holds 256 bytes of NDEF; a phone's HCE answer rarely exceeds 1 KiB

# NFC Forum RTD-URI 1.0, table 3 (abbreviation codes); ndeflib applies the same table.
URI_PREFIXES = (
    "", "http://www.", "https://www.", "http://", "https://", "tel:", "mailto:",
    "ftp://anonymous:anonymous@", "ftp://ftp.", "ftps://", "sftp://", "smb://", "nfs://", "ftp://",
    "dav://", "news:", "telnet://", "imap:", "rtsp://", "urn:", "pop:", "sip:", "sips:", "tftp:",
    "btspp://", "btl2cap://", "btgoep://", "tcpobex://", "irdaobex://", "file://", "urn:epc:id:",
    "urn:epc:tag:", "urn:epc:pat:", "urn:epc:raw:", "urn:epc:", "urn:nfc:",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NdefRecord:
    type: str  # ndeflib's form: "urn:nfc:wkt:U", "urn:nfc:wkt:T", "text/plain", ...
    name: str
    data: bytes
    uri: str | None = None
    text: str | None = None
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "uri": self.uri,
            "text": self.text,
            "language": self.language,
            "data": self.data.hex() if self.uri is None and self.text is None else None,
        }


@dataclass(frozen=True, slots=True)
class NdefMessage:
    kind = "ndef"

    records: tuple[NdefRecord, ...]
    content: Any = None  # the payment payload found in the first URI/text record that parses, if any

    def to_json(self) -> dict[str, Any]:
        inner = self.content
        inner_json = {"kind": inner.kind, **inner.to_json()} if inner is not None else None
        return {
            "network": inner_json["network"] if inner_json else None,
            "asset": inner_json["asset"] if inner_json else None,
            "amount": inner_json["amount"] if inner_json else None,
            "amount_minor": inner_json["amount_minor"] if inner_json else None,
            "records": [r.to_json() for r in self.records],
            "content": inner_json,
        }


def _record(rec: Any) -> NdefRecord:
    if isinstance(rec, ndeflib.UriRecord):
        return NdefRecord(type=rec.type, name=rec.name, data=bytes(rec.data), uri=rec.iri)
    if isinstance(rec, ndeflib.TextRecord):
        return NdefRecord(
            type=rec.type, name=rec.name, data=bytes(rec.data), text=rec.text, language=rec.language
        )
    return NdefRecord(type=str(rec.type), name=str(rec.name), data=bytes(rec.data))


def parse_ndef(
    data: bytes, *, strict: bool = True, parse_inner: Callable[[str], Any] | None = None
) -> NdefMessage:
    """Decode an NDEF message. ``parse_inner`` (``parse_payload``) classifies URI/text records."""
    if not data:
        raise PayloadError("bad_ndef", "the NDEF message is empty")
    if len(data) > MAX_NDEF_OCTETS:
        raise PayloadError("too_long", f"the NDEF message is {len(data)} bytes; at most {MAX_NDEF_OCTETS}")
    try:
        records = tuple(
            _record(r) for r in ndeflib.message_decoder(data, errors="strict" if strict else "relax")
        )
    except ndeflib.DecodeError as exc:
        msg = str(exc)
        code = "unknown_uri_prefix" if "URI identifier" in msg else "bad_ndef"
        raise PayloadError(code, f"the NDEF message does not decode: {msg}") from None
    except (ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError, AttributeError) as exc:
        # ndeflib raises DecodeError for malformed framing, but record classes may surface
        # lower-level errors on odd payloads; they all mean the same to the cashier
        raise PayloadError("bad_ndef", f"the NDEF message does not decode ({type(exc).__name__})") from None
    if not records:
        raise PayloadError("bad_ndef", "the NDEF message holds no records")
    content = None
    if parse_inner is not None:
        for rec in records:
            candidate = rec.uri if rec.uri is not None else rec.text
            if candidate is None:
                continue
            try:
                content = parse_inner(candidate)
            except PayloadError:
                continue
            break
    return NdefMessage(records=records, content=content)


def parse_ndef_hex(
    text: str, *, strict: bool = True, parse_inner: Callable[[str], Any] | None = None
) -> NdefMessage:
    """``ndef:`` + hex (spaces allowed) -> ``NdefMessage``."""
    body = text.partition(":")[2].replace(" ", "")
    try:
        data = bytes.fromhex(body)
    except ValueError:
        raise PayloadError("bad_ndef", "after 'ndef:' come the message's octets in hex") from None
    return parse_ndef(data, strict=strict, parse_inner=parse_inner)


def encode_uri_message(uri: str) -> bytes:
    """One URI record, the shortest prefix code applied (what a card or an emulated phone serves)."""
    return b"".join(ndeflib.message_encoder([ndeflib.UriRecord(uri)]))

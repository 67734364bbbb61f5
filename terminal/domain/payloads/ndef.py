"""NDEF messages read from NFC tags and phones, framed here and decoded with ndeflib.

The framing is checked strictly before ndeflib decodes the records (NFC Forum NDEF 1.0,
section 3): the first record has MB, the last ME and no other does; every length field
matches the data (a record that claims more bytes than there are, or a byte left after the
record with ME, fails: the payload that would be read would not be the one written);
TNF values are used as defined (empty records are empty, "unknown" has no type, 0x06 and 0x07
never appear); records are not chunked (no tag or phone we read chunks a payment code). In
strict mode (the default) each record must also be in its one canonical layout, short (SR)
when the payload is under 256 bytes and with an ID length only when there is an ID, so that
an accepted message re-encodes to exactly its bytes.

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
    data: bytes  # the record's payload, as on the tag
    uri: str | None = None
    text: str | None = None
    language: str | None = None
    tnf: int = 1  # the framing as on the tag: type name format, type and ID fields
    raw_type: bytes = b""
    raw_id: bytes = b""

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


_MB, _ME, _CF, _SR, _IL = 0x80, 0x40, 0x20, 0x10, 0x08


@dataclass(frozen=True, slots=True)
class _Frame:
    tnf: int
    type: bytes
    id: bytes
    payload: bytes


def _frames(data: bytes, *, strict: bool) -> list[_Frame]:
    """Split a message into records, checking every flag and length field against the data."""
    frames: list[_Frame] = []
    pos = 0
    while True:
        if pos >= len(data):
            raise PayloadError(
                "ndef_bad_length", "the NDEF message ends before a record marked as the last (ME)"
            )
        header = data[pos]
        n = len(frames) + 1
        if bool(header & _MB) != (not frames):
            where = "the first record lacks" if not frames else f"record {n} repeats"
            raise PayloadError("bad_ndef", f"{where} the message-begin flag (MB)")
        if header & _CF:
            raise PayloadError("bad_ndef", "chunked NDEF records are not supported")
        tnf = header & 0x07
        short = bool(header & _SR)
        head = 2 + (1 if short else 4) + (1 if header & _IL else 0)
        if pos + head > len(data):
            raise PayloadError("ndef_bad_length", f"record {n}'s header runs past the end of the message")
        type_len = data[pos + 1]
        size_at = pos + 2
        payload_len = data[size_at] if short else int.from_bytes(data[size_at : size_at + 4], "big")
        id_len = data[pos + head - 1] if header & _IL else 0
        body = pos + head
        claimed = type_len + id_len + payload_len
        end = body + claimed
        if end > len(data):
            raise PayloadError(
                "ndef_bad_length", f"record {n} claims {claimed} bytes but only {len(data) - body} follow"
            )
        if tnf == 0x00 and type_len + id_len + payload_len:
            raise PayloadError("bad_ndef", f"record {n} is marked empty but holds data")
        if tnf in (0x01, 0x02, 0x03, 0x04) and not type_len:
            raise PayloadError("bad_ndef", f"record {n} has no type")
        if tnf == 0x05 and type_len:
            raise PayloadError("bad_ndef", f"record {n} is of unknown type but names one")
        if tnf in (0x06, 0x07):
            raise PayloadError("bad_ndef", f"record {n} has type name format {tnf}, not allowed here")
        if strict and not short and payload_len < 256:
            raise PayloadError("bad_ndef", f"record {n} is not in the short form its size calls for")
        if strict and header & _IL and not id_len:
            raise PayloadError("bad_ndef", f"record {n} has an empty ID field")
        frames.append(
            _Frame(
                tnf=tnf,
                type=data[body : body + type_len],
                id=data[body + type_len : body + type_len + id_len],
                payload=data[body + type_len + id_len : end],
            )
        )
        pos = end
        if header & _ME:
            break
    if pos != len(data):
        raise PayloadError(
            "ndef_trailing_data",
            f"{len(data) - pos} byte(s) follow the NDEF message's last record: damaged or tampered",
        )
    return frames


def _record(rec: Any, frame: _Frame) -> NdefRecord:
    uri = text = language = None
    if isinstance(rec, ndeflib.UriRecord):
        uri = rec.iri
    elif isinstance(rec, ndeflib.TextRecord):
        text, language = rec.text, rec.language
    return NdefRecord(
        type=str(rec.type),
        name=str(rec.name),
        data=frame.payload,
        uri=uri,
        text=text,
        language=language,
        tnf=frame.tnf,
        raw_type=frame.type,
        raw_id=frame.id,
    )


def parse_ndef(
    data: bytes, *, strict: bool = True, parse_inner: Callable[[str], Any] | None = None
) -> NdefMessage:
    """Decode an NDEF message. ``parse_inner`` (``parse_payload``) classifies URI/text records."""
    if not data:
        raise PayloadError("bad_ndef", "the NDEF message is empty")
    if len(data) > MAX_NDEF_OCTETS:
        raise PayloadError("too_long", f"the NDEF message is {len(data)} bytes; at most {MAX_NDEF_OCTETS}")
    frames = _frames(data, strict=strict)
    try:
        decoded = list(ndeflib.message_decoder(data, errors="strict" if strict else "relax"))
    except ndeflib.DecodeError as exc:
        msg = str(exc)
        code = "unknown_uri_prefix" if "URI identifier" in msg else "bad_ndef"
        raise PayloadError(code, f"the NDEF message does not decode: {msg}") from None
    except (ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError, AttributeError) as exc:
        # ndeflib raises DecodeError for malformed framing, but record classes may surface
        # lower-level errors on odd payloads; they all mean the same to the cashier
        raise PayloadError("bad_ndef", f"the NDEF message does not decode ({type(exc).__name__})") from None
    if len(decoded) != len(frames):
        # the framing above and ndeflib's must agree on what the records are
        raise PayloadError("bad_ndef", "the NDEF message's records do not add up")
    records = tuple(_record(r, f) for r, f in zip(decoded, frames, strict=True))
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

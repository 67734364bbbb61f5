"""ISO-DEP / Type 4 protocol, pure: APDUs in, payload text out. No nfcpy, no I/O of its own.

A card is reached through a ``transceive(apdu) -> response`` callable (the response includes the
status word), so the same code reads a card through nfcpy, through the simulated reader, or in a
unit test. Two applications are tried, in this order:

1. our wallet's HCE application (``WALLET_AID``): SELECT, then GET PAYMENT TOKEN; see docs/nfc.md;
2. the NFC Forum Type 4 Tag NDEF application (``NDEF_AID``): SELECT, the CC file, then the NDEF
   file read in chunks no larger than the card's MLe (from the CC).

NDEF bytes from any tag type become a payload with :func:`payload_from_ndef`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import ndef

from drivers.nfc.errors import NdefFormatError, TagLostError, TagUnsupportedError, WalletError

Transceive = Callable[[bytes], bytes]

NDEF_AID = bytes.fromhex("D2760000850101")
CC_FILE = bytes.fromhex("E103")
# Proprietary AID (first nibble F: not registered with ISO) spelling "CRYPTOPOS" after F0.
WALLET_AID = bytes.fromhex("F043525950544F504F53")
WALLET_CLA = 0x80
INS_GET_TOKEN = 0x50
INS_GET_RESPONSE = 0xC0
WALLET_HELLO = b"CPW1"  # what SELECT of the wallet answers: protocol name and version

SW_OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_CONDITIONS = b"\x69\x85"  # wallet locked or the user has not confirmed the payment
SW_INS_UNKNOWN = b"\x6d\x00"
SW_WRONG_P1P2 = b"\x6b\x00"
SW_WRONG_LENGTH = b"\x67\x00"

MAX_SHORT_LE = 255  # short APDUs; nfcpy's Type 4A driver has no extended length support
MAX_TOKEN = 4096


@dataclass(frozen=True, slots=True)
class CardContent:
    """What a card gave: the payload text, how it got it, and the raw NDEF if any."""

    payload: str
    source: str  # "wallet" (HCE token) or "ndef"
    ndef: bytes | None = None


def select_aid(aid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x04, 0x00, len(aid)]) + aid + b"\x00"


def select_file(fid: bytes) -> bytes:
    return bytes([0x00, 0xA4, 0x00, 0x0C, len(fid)]) + fid


def read_binary(offset: int, length: int) -> bytes:
    if not 0 <= offset <= 0x7FFF or not 1 <= length <= 256:
        raise ValueError(f"READ BINARY offset {offset} length {length} out of range")
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, length & 0xFF])


def get_token() -> bytes:
    return bytes([WALLET_CLA, INS_GET_TOKEN, 0x00, 0x00, 0x00])


def get_response(length: int) -> bytes:
    return bytes([0x00, INS_GET_RESPONSE, 0x00, 0x00, length & 0xFF])


def _split(response: bytes) -> tuple[bytes, bytes]:
    if len(response) < 2:
        raise TagLostError("the card answered without a status word")
    return bytes(response[:-2]), bytes(response[-2:])


def _ok(transceive: Transceive, apdu: bytes, what: str) -> bytes:
    data, sw = _split(transceive(apdu))
    if sw != SW_OK:
        raise NdefFormatError(f"{what} failed with status {sw.hex().upper()}")
    return data


@dataclass(frozen=True, slots=True)
class CapabilityContainer:
    mapping_version: int
    mle: int  # max bytes per READ BINARY response
    mlc: int
    ndef_file: bytes
    max_ndef_size: int
    read_access: int


def parse_cc(cc: bytes) -> CapabilityContainer:
    if len(cc) < 15:
        raise NdefFormatError(f"capability container is {len(cc)} bytes, at least 15 needed")
    _cclen, version, mle, mlc = struct.unpack(">HBHH", cc[:7])
    tlv_t, tlv_l = cc[7], cc[8]
    if version >> 4 not in (1, 2):
        raise NdefFormatError(f"unsupported Type 4 mapping version {version >> 4}.{version & 15}")
    if tlv_t != 0x04 or tlv_l != 6:
        raise NdefFormatError("capability container has no NDEF file control TLV")
    fid, max_size, read_access, _write = struct.unpack(">2sHBB", cc[9:15])
    if mle < 0x0F:
        raise NdefFormatError(f"capability container MLe {mle} is below the minimum 15")
    if read_access != 0x00:
        raise TagUnsupportedError("the NDEF file is read-protected")
    return CapabilityContainer(version, mle, mlc, fid, max_size, read_access)


def read_type4_ndef(transceive: Transceive) -> bytes:
    """The NDEF message of a Type 4 tag; :class:`TagUnsupportedError` when it has no NDEF app."""
    _data, sw = _split(transceive(select_aid(NDEF_AID)))
    if sw != SW_OK:
        raise TagUnsupportedError(
            f"the card has neither our wallet nor an NDEF application (status {sw.hex().upper()})"
        )
    _ok(transceive, select_file(CC_FILE), "SELECT of the CC file")
    cc = parse_cc(_ok(transceive, read_binary(0, 15), "READ BINARY of the CC file"))
    _ok(transceive, select_file(cc.ndef_file), "SELECT of the NDEF file")
    nlen_bytes = _ok(transceive, read_binary(0, 2), "READ BINARY of NLEN")
    if len(nlen_bytes) != 2:
        raise NdefFormatError("NLEN is not 2 bytes")
    nlen = int.from_bytes(nlen_bytes, "big")
    if nlen > cc.max_ndef_size - 2:
        raise NdefFormatError(f"NLEN {nlen} exceeds the NDEF file size {cc.max_ndef_size}")
    chunk = min(cc.mle, MAX_SHORT_LE)
    out = bytearray()
    offset = 2
    while len(out) < nlen:
        size = min(chunk, nlen - len(out))
        part = _ok(transceive, read_binary(offset, size), f"READ BINARY at {offset}")
        if not part:
            raise NdefFormatError(f"READ BINARY at {offset} returned no data")
        out += part[:size]
        offset += len(part[:size])
    return bytes(out)


def read_wallet_token(transceive: Transceive) -> str | None:
    """The wallet's payment token, or ``None`` when the card has no wallet application."""
    hello, sw = _split(transceive(select_aid(WALLET_AID)))
    if sw != SW_OK:
        return None
    if not hello.startswith(WALLET_HELLO[:3]):
        raise WalletError(f"the wallet answered SELECT with {hello[:8].hex()}", title="Unknown wallet")
    data, sw = _split(transceive(get_token()))
    token = bytearray(data)
    while sw[0] == 0x61:  # more data: fetch it with GET RESPONSE (ISO 7816-4 case 2 chaining)
        if len(token) > MAX_TOKEN:
            raise WalletError(f"the token is longer than {MAX_TOKEN} bytes", title="Wallet token too long")
        data, sw = _split(transceive(get_response(sw[1])))
        token += data
    if sw == SW_CONDITIONS:
        raise WalletError(
            "the phone's wallet did not release a token",
            title="Wallet locked",
            hint="unlock, confirm, tap again",
        )
    if sw != SW_OK:
        raise WalletError(f"GET PAYMENT TOKEN failed with status {sw.hex().upper()}", title="Wallet refused")
    try:
        text = bytes(token).decode("utf-8")
    except UnicodeDecodeError:
        raise WalletError("the token is not UTF-8 text", title="Unreadable wallet token") from None
    if not text.strip():
        raise WalletError("the wallet returned an empty token", title="Empty wallet token")
    return text


def read_iso_dep(transceive: Transceive) -> CardContent:
    """Read a payment from an ISO-DEP card or phone: the wallet app first, then NDEF."""
    token = read_wallet_token(transceive)
    if token is not None:
        return CardContent(payload=token, source="wallet")
    raw = read_type4_ndef(transceive)
    return CardContent(payload=payload_from_ndef(raw), source="ndef", ndef=raw)


def payload_from_ndef(raw: bytes) -> str:
    """The text a payment parser takes from an NDEF message: the first URI record, else the first
    text record, else a text/* MIME record. Garbage raises :class:`NdefFormatError`."""
    if not raw:
        raise TagUnsupportedError("the tag is empty (no NDEF message)")
    try:
        records = list(ndef.message_decoder(raw, errors="strict"))
    except ndef.DecodeError as exc:
        raise NdefFormatError(f"the NDEF message is malformed: {exc}") from None
    for rec in records:
        if isinstance(rec, ndef.UriRecord):
            return str(rec.iri)
    for rec in records:
        if isinstance(rec, ndef.TextRecord):
            return str(rec.text)
    for rec in records:
        if rec.type.startswith("text/"):
            try:
                return bytes(rec.data).decode("utf-8")
            except UnicodeDecodeError:
                break
    kinds = ", ".join(str(r.type) for r in records) or "none"
    raise TagUnsupportedError(f"the NDEF message has no URI or text record (records: {kinds})")

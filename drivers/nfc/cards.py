"""Card-side models of ISO-DEP cards, pure: an APDU in, a response APDU out.

They answer exactly what :mod:`drivers.nfc.protocol` asks, as the real things do: an NFC Forum
Type 4 tag (the NDEF application with its CC and NDEF files), our wallet's HCE application, and a
Bolt Card (a Type 4 tag whose NDEF file carries a fresh SUN URL on every tap). The simulated
reader plays them in-process; the test suite's udp emulators put them behind a real ISO-DEP link.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import ndef

from drivers.boltcard import BoltCard
from drivers.nfc import protocol as p

NDEF_FILE = bytes.fromhex("E104")


def ndef_message(*payloads: str, kind: str = "uri") -> bytes:
    """NDEF bytes with one URI (or text) record per payload."""
    make = ndef.UriRecord if kind == "uri" else ndef.TextRecord
    return b"".join(ndef.message_encoder([make(x) for x in payloads]))


class Application:
    aid: bytes = b""

    def selected(self) -> bytes:
        return p.SW_OK

    def process(self, apdu: bytes) -> bytes:
        return p.SW_INS_UNKNOWN


@dataclass
class NdefApplication(Application):
    """The Type 4 Tag NDEF application. ``message`` is called on each SELECT of the application,
    so a Bolt Card can mirror a new SUN URL into each read."""

    message: Callable[[], bytes]
    mle: int = 0x3B  # what NTAG 424 DNA announces: 59 bytes per READ BINARY
    max_size: int = 0x0100
    aid: bytes = p.NDEF_AID
    reads: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) of READ BINARYs
    _files: dict[bytes, bytes] = field(default_factory=dict)
    _current: bytes | None = None

    def selected(self) -> bytes:
        body = self.message()
        nfile = len(body).to_bytes(2, "big") + body
        size = max(self.max_size, len(nfile))
        cc = struct.pack(">HBHH", 15, 0x20, self.mle, 0xFF) + b"\x04\x06" + NDEF_FILE
        cc += struct.pack(">HBB", size, 0x00, 0xFF)
        self._files = {p.CC_FILE: cc, NDEF_FILE: nfile}
        self._current = None
        return p.SW_OK

    def process(self, apdu: bytes) -> bytes:
        ins = apdu[1]
        if ins == 0xA4 and apdu[2] == 0x00:  # SELECT by file id
            fid = bytes(apdu[5 : 5 + apdu[4]])
            if fid not in self._files:
                return p.SW_NOT_FOUND
            self._current = fid
            return p.SW_OK
        if ins == 0xB0:  # READ BINARY
            if self._current is None or len(apdu) != 5:
                return b"\x69\x86"  # command not allowed: no current file
            offset = (apdu[2] << 8) | apdu[3]
            length = apdu[4] or 256
            if length > self.mle:
                return p.SW_WRONG_LENGTH
            data = self._files[self._current]
            if offset > len(data):
                return p.SW_WRONG_P1P2
            self.reads.append((offset, length))
            return data[offset : offset + length] + p.SW_OK
        return p.SW_INS_UNKNOWN


@dataclass
class WalletApplication(Application):
    """Our wallet's HCE service as a phone runs it (docs/nfc.md)."""

    token: Callable[[], str]
    locked: bool = False
    aid: bytes = p.WALLET_AID
    _pending: bytes = b""

    def selected(self) -> bytes:
        return p.WALLET_HELLO + p.SW_OK

    def process(self, apdu: bytes) -> bytes:
        if apdu[0] == p.WALLET_CLA and apdu[1] == p.INS_GET_TOKEN:
            if self.locked:
                return p.SW_CONDITIONS
            self._pending = self.token().encode()
            return self._next()
        if apdu[1] == p.INS_GET_RESPONSE and self._pending:
            return self._next()
        return p.SW_INS_UNKNOWN

    def _next(self) -> bytes:
        part, self._pending = self._pending[:256], self._pending[256:]
        if self._pending:
            return part + bytes([0x61, min(len(self._pending), 256) & 0xFF])
        return part + p.SW_OK


@dataclass
class IsoDepCard:
    """A card or phone with some applications, selected by AID."""

    applications: list[Application]
    apdus: list[bytes] = field(default_factory=list)  # everything the reader sent, for tests
    _current: Application | None = None

    def transceive(self, apdu: bytes) -> bytes:
        apdu = bytes(apdu)
        self.apdus.append(apdu)
        if len(apdu) < 4:
            return p.SW_WRONG_LENGTH
        if apdu[1] == 0xA4 and apdu[2] == 0x04:  # SELECT by AID
            aid = bytes(apdu[5 : 5 + apdu[4]]) if len(apdu) > 5 else b""
            for app in self.applications:
                if app.aid == aid:
                    self._current = app
                    return app.selected()
            self._current = None
            return p.SW_NOT_FOUND
        if self._current is None:
            return b"\x69\x86"
        return self._current.process(apdu)

    def reset(self) -> None:
        """The card left the field: no application stays selected."""
        self._current = None


def type4_tag(message: bytes, *, mle: int = 0x3B) -> IsoDepCard:
    return IsoDepCard([NdefApplication(lambda: message, mle=mle)])


def bolt_card_tag(card: BoltCard) -> IsoDepCard:
    """A Bolt Card: each SELECT of the NDEF application is a new tap with a new counter."""
    return IsoDepCard([NdefApplication(lambda: ndef_message(card.tap()), mle=0x3B)])


def wallet_phone(token: str, *, locked: bool = False) -> IsoDepCard:
    return IsoDepCard([WalletApplication(lambda: token, locked=locked)])

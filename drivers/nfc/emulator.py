"""Cards on nfcpy's ``udp:`` driver, for tests, benchmarks and demos without hardware.

Both sides open ``udp:localhost:PORT``: the emulator *listens* (binds the port), the reader senses.

* :class:`Type3TagEmulator`: nfcpy's own Type 3 (FeliCa) tag emulation serving an NDEF message.
* :class:`IsoDepEmulator`: a small ISO 14443-4 responder (nfcpy has no Type 4 emulation): it answers
  RATS with an ATS, then I-blocks (with response chaining), R(NAK)/R(ACK) by the block-number rules,
  S(DESELECT); RFOFF ends the session. Behind it sits a card model from :mod:`drivers.nfc.cards`
  (Type 4 NDEF tag, Bolt Card, wallet phone with SEL_RES 0x60).

Each emulator serves a list of taps in its own thread. A tap ends ``hold`` seconds after activation
(the card leaves the field), or after ``drop_after`` APDUs (the card is pulled away mid-read).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import nfc
import nfc.clf
import nfc.tag
import nfc.tag.tt3

from drivers.nfc.cards import IsoDepCard

log = logging.getLogger(__name__)

# ATS: TL=5, T0=0x78 (TA, TB, TC follow; FSCI 8 = 256 bytes), TA=0x80, TB=0x80 (FWI 8: 77 ms,
# generous for a Python responder on a loaded machine), TC=0x00 (no NAD, no CID)
ATS = bytes.fromhex("0578808000")
MAX_INF = 253  # FSD 256 minus PCB and CRC


@dataclass
class Tap:
    """One presentation of a card. ``drop_after``: go silent after that many APDUs (removed
    mid-read); ``hold``: seconds in the field after activation."""

    card: IsoDepCard | None = None
    ndef: bytes = b""
    hold: float = 0.25
    drop_after: int | None = None
    delay: float = 0.0  # seconds before the card comes near the reader
    lose_reply: int | None = None  # the answer to this APDU (0-based) is lost once: the reader must NAK


@dataclass
class EmulatorLog:
    activations: int = 0
    apdus: list[bytes] = field(default_factory=list)
    blocks: list[bytes] = field(default_factory=list)  # raw ISO-DEP blocks received
    errors: list[str] = field(default_factory=list)
    present_at: list[float] = field(default_factory=list)  # monotonic: the card came into the field
    activated_at: list[float] = field(default_factory=list)  # monotonic: the reader activated it
    retransmits: int = 0  # blocks sent again after an R(NAK) for them


class _Emulator:
    def __init__(self, port: int, taps: list[Tap], *, listen_timeout: float = 3.0, retries: int = 5) -> None:
        self.port = port
        self.taps = list(taps)
        self.listen_timeout = listen_timeout
        self.retries = retries  # how often one tap re-listens when the reader's poll was lost
        self.log = EmulatorLog()
        self.served = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = threading.Event()

    def start(self) -> _Emulator:
        self._thread = threading.Thread(target=self._run, name=f"emulator udp:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.listen_timeout + 2)

    def __enter__(self) -> _Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        clf = nfc.ContactlessFrontend(f"udp:localhost:{self.port}")
        try:
            for tap in self.taps:
                if self._stop.wait(tap.delay):
                    return
                # a lost reader poll or a stray frame costs one listen; the tap tries again
                deadline = time.monotonic() + self.listen_timeout * self.retries
                while not self._stop.is_set() and time.monotonic() < deadline:
                    if self._serve(clf, tap):
                        self.served += 1
                        break
        except Exception as exc:  # recorded for the test to see, never raised into a thread
            log.exception("emulator failed")
            self.log.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            clf.close()
            self.done.set()

    def _serve(self, clf: nfc.ContactlessFrontend, tap: Tap) -> bool:
        raise NotImplementedError

    def _record(self, present: float) -> None:
        self.log.activations += 1
        self.log.present_at.append(present)
        self.log.activated_at.append(time.monotonic())


class IsoDepEmulator(_Emulator):
    def __init__(
        self,
        port: int,
        taps: list[Tap],
        *,
        uid: bytes = bytes.fromhex("04996C6A926980"),
        sel_res: int = 0x20,
        ats: bytes = ATS,
        **kw: float | int,
    ) -> None:
        super().__init__(port, taps, **kw)  # type: ignore[arg-type]
        self.uid = uid
        self.sel_res = sel_res
        self.ats = ats

    def _serve(self, clf: nfc.ContactlessFrontend, tap: Tap) -> bool:
        assert tap.card is not None
        target = nfc.clf.LocalTarget("106A")
        target.sens_res = bytearray.fromhex("4403" if len(self.uid) == 7 else "0400")
        target.sdd_res = bytearray(self.uid)
        target.sel_res = bytearray([self.sel_res])
        present = time.monotonic()
        activated = clf.listen(target, self.listen_timeout)
        if activated is None or activated.tt4_cmd is None or activated.tt4_cmd[0] != 0xE0:
            return False  # nobody polled, or a stray frame: listen again
        self._record(present)
        leave_at = time.monotonic() + tap.hold
        while True:
            tap.card.reset()
            if self._session(clf, tap, leave_at) != "field_off":
                return True
            # the reader switched its field off to poll again while the card lies on it:
            # the card is still there and answers the next activation
            while (left := leave_at - time.monotonic()) > 0 and not self._stop.is_set():
                again = clf.listen(target, left)
                if again is not None and again.tt4_cmd is not None and again.tt4_cmd[0] == 0xE0:
                    self.log.activations += 1
                    break
            else:
                return True

    def _session(self, clf: nfc.ContactlessFrontend, tap: Tap, leave_at: float) -> str:
        """Serve one activation; say how it ended: ``left``, ``field_off``, ``pulled`` or ``deselected``."""
        assert tap.card is not None
        send: bytes | None = self.ats  # RATS must be answered within nfcpy's 30 ms
        bn = 1  # the PICC's block number (ISO 14443-4: starts at 1)
        last: bytes = b""
        pending = b""  # the rest of a chained response
        chained_cmd = bytearray()
        served = 0
        while True:
            remaining = leave_at - time.monotonic()
            if remaining <= 0 or self._stop.is_set():
                return "left"  # the card left the field: it simply stops answering
            try:
                block = clf.exchange(bytearray(send) if send is not None else None, remaining)
            except nfc.clf.TimeoutError:
                return "left"
            except (nfc.clf.BrokenLinkError, nfc.clf.CommunicationError):
                return "field_off"  # RFOFF: the reader switched its field off
            if not block:
                send = None
                continue
            block = bytes(block)
            self.log.blocks.append(block)
            pcb = block[0]
            if pcb & 0xE2 == 0x02:  # I-block
                bn = pcb & 1
                chained_cmd += block[1:]
                if pcb & 0x10:  # the reader chains its command: acknowledge each part
                    send = last = bytes([0xA2 | bn])
                    continue
                apdu, chained_cmd = bytes(chained_cmd), bytearray()
                if tap.drop_after is not None and served >= tap.drop_after:
                    return "pulled"  # pulled away mid-read
                served += 1
                self.log.apdus.append(apdu)
                response = tap.card.transceive(apdu)
                part, pending = response[:MAX_INF], response[MAX_INF:]
                send = last = bytes([(0x12 if pending else 0x02) | bn]) + part
                if tap.lose_reply == served - 1:
                    send = None  # lost in the field: only an R(NAK) brings it back
            elif pcb & 0xF6 == 0xA2:  # R(ACK)
                if pcb & 1 != bn and pending:
                    bn ^= 1
                    part, pending = pending[:MAX_INF], pending[MAX_INF:]
                    send = last = bytes([(0x12 if pending else 0x02) | bn]) + part
                else:
                    send = last
            elif pcb & 0xF6 == 0xB2:  # R(NAK): presence check, or the reader missed our block
                if pcb & 1 == bn:
                    send = last  # our block was lost: send it again
                    self.log.retransmits += 1
                else:
                    send = bytes([0xA2 | bn])
            elif pcb & 0xF7 == 0xC2:  # S(DESELECT)
                clf.exchange(bytearray(block), 0)
                return "deselected"
            else:
                send = None  # not for us: stay silent, as a card does


def type3_attribute_block(ndef_len: int, *, nmaxb: int = 13) -> bytes:
    """Block 0 of a Type 3 tag: version 1.0, 4 blocks per read, NDEF length, checksum."""
    body = bytes([0x10, 0x04, 0x01]) + nmaxb.to_bytes(2, "big") + bytes(4)
    body += bytes([0x00, 0x00]) + ndef_len.to_bytes(3, "big")
    return body + sum(body).to_bytes(2, "big")


class Type3TagEmulator(_Emulator):
    """nfcpy's Type3TagEmulation serving ``tap.ndef`` (system code 12FC, services 0009/000B)."""

    IDM = bytes.fromhex("02FE000000000000")
    PMM = bytes.fromhex("FFFFFFFFFFFFFFFF")

    def _serve(self, clf: nfc.ContactlessFrontend, tap: Tap) -> bool:
        target = nfc.clf.LocalTarget("212F")
        target.sensf_res = bytearray(b"\x01" + self.IDM + self.PMM + b"\x12\xfc")
        present = time.monotonic()
        activated = clf.listen(target, self.listen_timeout)
        if activated is None or activated.tt3_cmd is None:
            return False
        tag = nfc.tag.emulate(clf, activated)
        if not isinstance(tag, nfc.tag.tt3.Type3TagEmulation):
            return False
        self._record(present)
        data = tap.ndef
        nmaxb = max(1, (len(data) + 15) // 16)
        blocks = [type3_attribute_block(len(data), nmaxb=nmaxb)]
        blocks += [data[i : i + 16].ljust(16, b"\x00") for i in range(0, len(data), 16)]
        reads = 0

        def read(block: int, rb: int, re: int) -> bytes | None:
            nonlocal reads
            reads += 1
            if tap.drop_after is not None and reads > tap.drop_after:
                raise _Pulled
            return bytes(blocks[block]) if block < len(blocks) else None

        def write(block: int, data: bytes, wb: int, we: int) -> bool:
            return False  # a read-only tag

        tag.add_service(0x0009, read, write)
        tag.add_service(0x000B, read, write)
        leave_at = time.monotonic() + tap.hold
        try:
            rsp = tag.process_command(tag.cmd)
            while not self._stop.is_set():
                remaining = leave_at - time.monotonic()
                if remaining <= 0:
                    break
                cmd = tag.send_response(rsp, remaining)
                rsp = tag.process_command(cmd)
        except (nfc.clf.CommunicationError, _Pulled):
            pass
        return True


class _Pulled(Exception):
    """The emulated card was pulled away while a block was being read."""

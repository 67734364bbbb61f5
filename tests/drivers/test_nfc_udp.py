"""The nfcpy reader against emulated cards on nfcpy's udp driver: real nfcpy code on both sides."""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nfc.clf
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from drivers import open_reader
from drivers.boltcard import BoltCard
from drivers.events import ReaderState, TagRead
from drivers.nfc import cards
from drivers.nfc.emulator import Tap
from drivers.nfc.reader import NfcReader, accept_target, default_frontend
from tests.drivers.helpers import Events

K1 = bytes.fromhex("0c3b25d92b38ae443229dd59ad34b85d")
K2 = bytes.fromhex("b45775776cb224c75bcde7ca3704e933")
UID = bytes.fromhex("04996C6A926980")


@contextmanager
def reading(device: str, **kw: Any) -> Iterator[tuple[Any, Events]]:
    events = Events()
    reader = open_reader(device, **kw)
    reader.start(events)
    try:
        yield reader, events
    finally:
        reader.stop()


def counter_of(url: str) -> int:
    p = bytes.fromhex(url.split("p=")[1].split("&", maxsplit=1)[0])
    dec = Cipher(algorithms.AES(K1), modes.CBC(bytes(16))).decryptor()
    plain = dec.update(p) + dec.finalize()
    assert plain[0] == 0xC7 and plain[1:8] == UID
    return int.from_bytes(plain[8:11], "little")


def test_type3_tag_is_read_through_nfcpys_own_emulation(emulator: Any, udp_port: int) -> None:
    url = "lnurlw://pay.example.com/w?k1=abc"
    emulator("type3", [Tap(ndef=cards.ndef_message(url))])
    with reading(f"nfc:udp:localhost:{udp_port}?targets=212F") as (_, events):
        (tag,) = events.wait_for(TagRead, timeout=8)
    assert tag.payload == url
    assert tag.tag_type.startswith("Type3Tag")
    assert tag.uid == "02FE000000000000"
    assert tag.ndef == cards.ndef_message(url)


def test_bolt_card_answers_a_fresh_sun_url_per_tap_read_in_chunks_from_the_cc(
    emulator: Any, udp_port: int
) -> None:
    card = BoltCard(uid=UID, k1=K1, k2=K2, base="lnurlw://card.example.com/ln/with/a/longer/path")
    tag = cards.bolt_card_tag(card)
    emu = emulator("isodep", [Tap(card=tag), Tap(card=tag, delay=0.4)], uid=UID)
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A&debounce=0") as (_, events):
        reads = events.wait_for(TagRead, 2, timeout=12)
    assert len(reads) == 2, events.items
    first, second = (r.payload for r in reads)
    assert first != second
    assert [counter_of(first), counter_of(second)] == [1, 2]
    assert all(r.uid == UID.hex().upper() and r.tag_type == "Type4Tag/ndef" for r in reads)
    app = tag.applications[0]
    assert isinstance(app, cards.NdefApplication)
    body = [n for off, n in app.reads if off >= 2]
    assert len(body) >= 2 and max(body) <= app.mle  # several READ BINARYs, none above MLe
    assert emu.log.errors == []


def test_phone_advertising_sel_res_0x60_is_read_not_skipped(emulator: Any, udp_port: int) -> None:
    token = "cpw1." + "T" * 600  # longer than one I-block and than one short APDU response
    emulator("isodep", [Tap(card=cards.wallet_phone(token))], uid=bytes.fromhex("08A1B2C3"), sel_res=0x60)
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A") as (_, events):
        (tag,) = events.wait_for(TagRead, timeout=8)
    assert tag.payload == token
    assert tag.tag_type == "Type4Tag/wallet"
    assert tag.uid == "08A1B2C3"


@pytest.mark.parametrize(("sel_res", "accepted"), [(0x60, True), (0x20, True), (0x00, True), (0x40, False)])
def test_on_discover_skips_only_peer_to_peer_targets(sel_res: int, accepted: bool) -> None:
    target = nfc.clf.RemoteTarget("106A", sens_res=b"\x04\x00", sdd_res=b"\x08\x01\x02\x03")
    target.sel_res = bytearray([sel_res])
    assert accept_target(target) is accepted


def test_card_removed_mid_read_and_put_back_gives_one_read(emulator: Any, udp_port: int) -> None:
    tag = cards.type4_tag(cards.ndef_message("lnurlw://card.example.com/ln?p=00&c=00"))
    emu = emulator("isodep", [Tap(card=tag, drop_after=3), Tap(card=tag)])
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A&retry=4") as (_, events):
        (read,) = events.wait_for(TagRead, timeout=10)
        assert emu.done.wait(5)
    assert read.payload == "lnurlw://card.example.com/ln?p=00&c=00"
    assert [e.code for e in events.errors()] == []
    assert emu.log.activations == 2


def test_card_removed_for_good_asks_to_tap_again(emulator: Any, udp_port: int) -> None:
    tag = cards.type4_tag(cards.ndef_message("lnurlw://card.example.com/ln?p=00&c=00"))
    emulator("isodep", [Tap(card=tag, drop_after=2)])
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A&retry=0.3") as (_, events):
        events.wait(lambda _: bool(events.errors()), timeout=10)
    (err,) = events.errors()
    assert err.code == "card_removed"
    assert "tap again" in err.hint
    assert events.of(TagRead) == []


@pytest.mark.parametrize("kind", ["type3", "isodep"])
def test_garbage_ndef_is_a_clear_error(emulator: Any, udp_port: int, kind: str) -> None:
    garbage = bytes.fromhex("d101ff55") + b"\x00broken"
    if kind == "type3":
        emulator("type3", [Tap(ndef=garbage)])
    else:
        emulator("isodep", [Tap(card=cards.type4_tag(garbage))])
    tech = "212F" if kind == "type3" else "106A"
    with reading(f"nfc:udp:localhost:{udp_port}?targets={tech}") as (_, events):
        events.wait(lambda _: bool(events.errors()), timeout=8)
    (err,) = events.errors()
    assert err.code == "ndef_malformed"
    assert err.title == "Unreadable card"
    assert events.of(TagRead) == []


def test_card_without_ndef_or_wallet_is_unsupported(emulator: Any, udp_port: int) -> None:
    emulator("isodep", [Tap(card=cards.IsoDepCard([]))])
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A") as (_, events):
        events.wait(lambda _: bool(events.errors()), timeout=8)
    assert [e.code for e in events.errors()] == ["tag_unsupported"]


def test_same_card_twice_within_debounce_is_one_event(emulator: Any, udp_port: int) -> None:
    tag = cards.type4_tag(cards.ndef_message("lnurlw://card.example.com/ln?p=11&c=22"))
    emu = emulator("isodep", [Tap(card=tag, hold=0.15), Tap(card=tag, hold=0.15, delay=0.05)])
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A&debounce=30") as (_, events):
        assert emu.done.wait(12)
        time.sleep(0.3)
    assert emu.served == 2  # the card really was read twice...
    assert len(events.of(TagRead)) == 1  # ...and the terminal heard of it once


class FlakyFrontend:
    """Opens fail with ``errors`` first (busy, unplugged), then the real udp frontend opens."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.opens = 0

    def __call__(self, path: str) -> Any:
        self.opens += 1
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, f"simulated {errno.errorcode[code]}")
        return default_frontend(path)


def test_busy_reader_reports_then_reconnects_and_reads(emulator: Any, udp_port: int) -> None:
    url = "lnurlw://card.example.com/ln?p=33&c=44"
    emulator("isodep", [Tap(card=cards.type4_tag(cards.ndef_message(url)), delay=0.2)])
    frontend = FlakyFrontend(errno.EBUSY, errno.EBUSY)
    events = Events()
    reader = NfcReader(
        "nfc:udp:test", f"udp:localhost:{udp_port}", targets=("106A",), reconnect=0.05, frontend=frontend
    )
    reader.start(events)
    try:
        (tag,) = events.wait_for(TagRead, timeout=10)
    finally:
        reader.stop()
    assert tag.payload == url
    states = events.states()
    assert states[:3] == [ReaderState.STARTING, ReaderState.BUSY, ReaderState.READY]
    (err,) = events.errors()  # one error for the busy spell, not one per attempt
    assert err.code == "reader_unavailable" and "modprobe" in err.hint
    assert frontend.opens == 3
    assert states[-1] == ReaderState.STOPPED


class UnpluggedOnce:
    """A real udp frontend whose first sense fails as a yanked USB reader does."""

    def __init__(self) -> None:
        self.opens = 0

    def __call__(self, path: str) -> Any:
        self.opens += 1
        clf = default_frontend(path)
        if self.opens == 1:

            def unplugged(*a: Any, **k: Any) -> Any:
                raise OSError(errno.ENODEV, "No such device")

            clf.sense = unplugged
        return clf


def test_unplugged_reader_goes_disconnected_and_comes_back(emulator: Any, udp_port: int) -> None:
    url = "lnurlw://card.example.com/ln?p=55&c=66"
    emulator("isodep", [Tap(card=cards.type4_tag(cards.ndef_message(url)), delay=0.2)])
    events = Events()
    reader = NfcReader(
        "nfc:udp:test",
        f"udp:localhost:{udp_port}",
        targets=("106A",),
        reconnect=0.05,
        frontend=UnpluggedOnce(),
    )
    reader.start(events)
    try:
        (tag,) = events.wait_for(TagRead, timeout=10)
    finally:
        reader.stop()
    assert tag.payload == url
    states = events.states()
    assert states[1:4] == [ReaderState.READY, ReaderState.DISCONNECTED, ReaderState.READY]
    assert [e.code for e in events.errors()] == ["reader_unavailable"]


def test_usb_reader_missing_is_a_state_with_a_hint_not_a_crash() -> None:
    with reading("nfc:usb:054c:06c1") as (reader, events):
        events.wait(lambda _: ReaderState.DISCONNECTED in events.states(), timeout=5)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 3  # stop() is prompt while waiting to reconnect
    assert ReaderState.DISCONNECTED in events.states()
    (err,) = events.errors()
    assert err.code == "reader_unavailable"
    assert "lsusb" in err.hint or "udev" in err.hint
    assert not reader.running


@pytest.mark.slow
def test_soak_thirty_bolt_card_taps_none_lost(emulator: Any, udp_port: int) -> None:
    card = BoltCard(uid=UID, k1=K1, k2=K2)
    tag = cards.bolt_card_tag(card)
    emu = emulator("isodep", [Tap(card=tag, hold=0.12, delay=0.05) for _ in range(30)], uid=UID)
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A&debounce=0") as (_, events):
        reads = events.wait_for(TagRead, 30, timeout=90)
    assert [counter_of(r.payload) for r in reads] == list(range(1, 31))
    assert emu.log.errors == [] and events.errors() == []


def test_lost_reply_is_recovered_with_r_nak_and_retransmission(emulator: Any, udp_port: int) -> None:
    url = "lnurlw://card.example.com/ln?p=77&c=88"
    emu = emulator("isodep", [Tap(card=cards.type4_tag(cards.ndef_message(url)), lose_reply=3)])
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A") as (_, events):
        (tag,) = events.wait_for(TagRead, timeout=8)
    assert tag.payload == url
    assert emu.log.retransmits == 1
    assert emu.log.activations == 1  # recovered inside the ISO-DEP link, no second tap needed


def test_responder_answers_deselect(emulator: Any, udp_port: int) -> None:
    """Drive the ISO-DEP responder with nfcpy's initiator directly: APDUs (one chained), S(DESELECT)."""
    import nfc
    import nfc.tag

    tag_model = cards.type4_tag(cards.ndef_message("lnurlw://x.example/y"))
    emu = emulator("isodep", [Tap(card=tag_model, hold=2.0)])
    clf = nfc.ContactlessFrontend(f"udp:localhost:{udp_port}")
    try:
        target = None
        deadline = time.monotonic() + 8
        while target is None and time.monotonic() < deadline:
            target = clf.sense(nfc.clf.RemoteTarget("106A"), iterations=1)
        assert target is not None
        tag = nfc.tag.activate(clf, target)
        assert bytes(tag.transceive(bytearray.fromhex("00A4040007D276000085010100")))[-2:] == b"\x90\x00"
        # a command longer than one frame: nfcpy chains it, the responder acknowledges each part
        long_apdu = bytes.fromhex("80EE0000") + bytes([0xFF]) + bytes(395)
        assert bytes(tag.transceive(bytearray(long_apdu))) == bytes.fromhex("6D00")
        assert bytes(clf.exchange(bytearray(b"\xc2"), 0.5)) == b"\xc2"
    finally:
        clf.close()
    assert emu.log.blocks[-1] == b"\xc2"
    assert emu.log.apdus == [bytes.fromhex("00A4040007D276000085010100"), long_apdu]
    assert sum(b[0] & 0x10 != 0 for b in emu.log.blocks) == 1  # one chained I-block, then the last part


def test_unusable_card_left_on_the_reader_is_one_error_not_one_per_poll(emulator: Any, udp_port: int) -> None:
    emulator("isodep", [Tap(card=cards.IsoDepCard([]), hold=1.5)])
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A") as (_, events):
        events.wait(lambda _: bool(events.errors()), timeout=8)
        time.sleep(1.2)  # the card stays in the field
    assert [e.code for e in events.errors()] == ["tag_unsupported"]


def test_card_with_a_malformed_ats_is_unsupported_not_a_crash(emulator: Any, udp_port: int) -> None:
    tag = cards.type4_tag(cards.ndef_message("lnurlw://x.example/y"))
    emulator("isodep", [Tap(card=tag, hold=0.3)], ats=bytes.fromhex("0278"))
    with reading(f"nfc:udp:localhost:{udp_port}?targets=106A") as (reader, events):
        events.wait(lambda _: bool(events.errors()), timeout=8)
        assert reader.running
    assert [e.code for e in events.errors()] == ["tag_unsupported"]
    assert "malformed" in events.errors()[0].message

"""One contract, every reader of a family: simulated and real-library (udp / OpenCV) alike.

A rig sets up a source that will present ``payloads`` in order and returns the device string that
reads it. The contract: READY before the first event; each payload exactly once, in order, as the
family's event type carrying the device string; ``stop()`` prompt, idempotent, and the last event
STOPPED; ``start()`` twice is an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import cv2
import pytest

from drivers import open_reader
from drivers.camera import synth
from drivers.events import CodeScanned, ReaderState, ReaderStateChanged, TagRead
from drivers.nfc import cards
from drivers.nfc.emulator import IsoDepEmulator, Tap, Type3TagEmulator
from tests.drivers.helpers import Events, free_udp_port

PAYLOADS = [
    "lnurlw://card.example.com/ln?p=A2EF40F6D46F1BB36E6EBF0114D4A464&c=F509EEA788E37E32",
    synth.PAYLOADS["bip21"],
]
Rig = Callable[[Path, list[str]], AbstractContextManager[str]]


@contextmanager
def sim_rig(tmp: Path, payloads: list[str], kind: str) -> Iterator[str]:
    script = tmp / "script.json"
    script.write_text(json.dumps([{"payload": p, "delay": 0.05, "uid": "04AA"} for p in payloads]))
    yield f"sim:{kind}?script={script}"


@contextmanager
def udp_rig(tmp: Path, payloads: list[str], kind: str) -> Iterator[str]:
    port = free_udp_port()
    if kind == "isodep":
        taps = [Tap(card=cards.type4_tag(cards.ndef_message(p)), delay=0.1) for p in payloads]
        emu: Any = IsoDepEmulator(port, taps)
        tech = "106A"
    else:
        emu = Type3TagEmulator(port, [Tap(ndef=cards.ndef_message(p), delay=0.1) for p in payloads])
        tech = "212F"
    with emu:
        yield f"nfc:udp:localhost:{port}?targets={tech}&debounce=0"


@contextmanager
def video_rig(tmp: Path, payloads: list[str], fmt: str) -> Iterator[str]:
    frames = [synth.frame(960, 540, None, seed=0)] * 2
    for i, p in enumerate(payloads):
        frames += [synth.frame(960, 540, p, synth.CASES["rotated"], seed=i)] * 4
        frames += [synth.frame(960, 540, None, seed=i)] * 2
    if fmt == "avi":
        yield f"camera:file:{synth.write_video(tmp / 'clip.avi', frames)}?realtime=0"
    else:
        yield f"camera:file:{synth.write_sequence(tmp / 'seq', frames)}?realtime=0"


@contextmanager
def image_rig(tmp: Path, payloads: list[str]) -> Iterator[str]:
    path = tmp / "still.png"
    cv2.imwrite(str(path), synth.frame(1280, 720, payloads[0]))
    yield f"camera:image:{path}"


NFC_RIGS: dict[str, tuple[Rig, int]] = {
    "sim:nfc": (lambda t, p: sim_rig(t, p, "nfc"), 2),
    "udp-type4": (lambda t, p: udp_rig(t, p, "isodep"), 2),
    "udp-type3": (lambda t, p: udp_rig(t, p, "type3"), 2),
}
CAMERA_RIGS: dict[str, tuple[Rig, int]] = {
    "sim:qr": (lambda t, p: sim_rig(t, p, "qr"), 2),
    "camera:file avi": (lambda t, p: video_rig(t, p, "avi"), 2),
    "camera:file png": (lambda t, p: video_rig(t, p, "png"), 2),
    "camera:image": (image_rig, 1),
}
ALL = [("nfc", TagRead, name, *rig) for name, rig in NFC_RIGS.items()]
ALL += [("camera", CodeScanned, name, *rig) for name, rig in CAMERA_RIGS.items()]


@pytest.mark.parametrize(("family", "event_type", "name", "rig", "n"), ALL, ids=[a[2] for a in ALL])
def test_reader_contract(
    tmp_path: Path, family: str, event_type: type[Any], name: str, rig: Rig, n: int
) -> None:
    payloads = PAYLOADS[:n]
    with rig(tmp_path, payloads) as device:
        reader = open_reader(device)
        assert reader.device == device
        events = Events()
        reader.start(events)
        try:
            got = events.wait_for(event_type, n, timeout=15)
            with pytest.raises(RuntimeError, match="already started"):
                reader.start(events)
        finally:
            t0 = time.monotonic()
            reader.stop()
            stopped_in = time.monotonic() - t0
            reader.stop()  # idempotent
    assert [e.payload for e in got] == payloads
    assert all(e.reader == device for e in got)
    items = events.items
    first_ready = next(i for i, e in enumerate(items) if getattr(e, "state", None) == ReaderState.READY)
    assert first_ready < items.index(got[0])
    assert isinstance(items[-1], ReaderStateChanged) and items[-1].state == ReaderState.STOPPED
    assert len(events.of(event_type)) == n  # nothing twice, nothing extra
    assert stopped_in < 3.5

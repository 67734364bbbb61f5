"""Camera QR through real OpenCV capture of videos, image sequences and stills generated here."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import pytest

from drivers import open_reader
from drivers.camera import CameraError, synth
from drivers.camera.decoders import DECODERS, available_decoders, get_decoder
from drivers.camera.pipeline import ScanPipeline
from drivers.camera.reader import scan_path
from drivers.events import CodeScanned, ReaderState
from tests.drivers.helpers import Events

BIP21 = synth.PAYLOADS["bip21"]


def is_payment(text: str) -> bool:
    return text.split(":", 1)[0].lower() in ("bitcoin", "lightning", "ethereum") or text.startswith("LNURL")


@contextmanager
def reading(device: str, **kw: Any) -> Iterator[tuple[Any, Events]]:
    events = Events()
    reader = open_reader(device, **kw)
    reader.start(events)
    try:
        yield reader, events
    finally:
        reader.stop()


@pytest.fixture(scope="module")
def counter_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """720p MJPG: an empty counter, a loyalty-card QR, then the customer's payment QR (rotated)."""
    d = tmp_path_factory.mktemp("video")
    frames = [synth.frame(1280, 720, None, seed=i) for i in range(6)]
    frames += [synth.frame(1280, 720, "https://shop.example/loyalty/123", seed=i) for i in range(6)]
    frames += [synth.frame(1280, 720, BIP21, synth.CASES["rotated"], seed=i) for i in range(18)]
    return synth.write_video(d / "counter.avi", frames)


@pytest.mark.parametrize("case", list(synth.CASES))
@pytest.mark.parametrize(
    ("width", "height", "size"), [(640, 480, 0.35), (1280, 720, 0.25), (1920, 1080, 0.2)]
)
def test_default_pipeline_reads_every_payload_shape(case: str, width: int, height: int, size: float) -> None:
    look = dataclasses.replace(synth.CASES[case], size=size)
    pipeline = ScanPipeline(decoder=get_decoder(), accept=is_payment)
    for i, text in enumerate(synth.PAYLOADS.values()):
        result = pipeline.process(synth.frame(width, height, text, look, seed=i))
        assert result.accepted == text, (case, width, text[:20])


@pytest.mark.parametrize("name", DECODERS)
def test_every_decoder_backend_decodes_a_clean_frame(name: str) -> None:
    frame = synth.frame(1280, 720, BIP21, seed=3)
    assert get_decoder(name).decode(cv2.resize(frame, (640, 360)))[0].text == BIP21
    assert available_decoders()[name] == "ok"


def test_small_code_is_found_by_the_full_resolution_retry() -> None:
    frame = synth.frame(1920, 1080, BIP21, synth.Look(size=0.08))
    pipeline = ScanPipeline(decoder=get_decoder(), full_every=1)
    result = pipeline.process(frame)
    assert result.accepted == BIP21 and result.full_res


def test_full_passes_are_rationed_when_they_do_not_fit_the_frame_budget() -> None:
    frames = [synth.frame(1280, 720, None, seed=i) for i in range(9)]
    affordable = ScanPipeline(decoder=get_decoder(), full_every=3, budget_ms=1000)
    assert sum(affordable.process(f).full_res for f in frames) == 9
    rationed = ScanPipeline(decoder=get_decoder(), full_every=3, budget_ms=0.001)
    results = [rationed.process(f) for f in frames]
    assert [r.texts for r in results] == [[]] * 9
    assert [r.full_res for r in results] == [True, False, False] * 3  # the first one measures the cost


def test_video_file_gives_one_event_per_payment_and_flags_other_codes(counter_video: Path) -> None:
    with reading(f"camera:file:{counter_video}?realtime=0", accept=is_payment) as (reader, events):
        events.wait(lambda _: ReaderState.ENDED in events.states(), timeout=20)
    scans = events.of(CodeScanned)
    assert [s.payload for s in scans] == [BIP21]  # 18 frames in view, de-duplicated to one
    assert scans[0].decoder == "zxing"
    assert [e.code for e in events.errors()] == ["code_rejected"]
    assert reader.stats.frames == 30 and reader.stats.dropped == 0


def test_image_sequence_and_still_image(tmp_path: Path) -> None:
    look = synth.CASES["perspective"]
    pattern = synth.write_sequence(
        tmp_path / "seq", [synth.frame(640, 480, None)] * 3 + [synth.frame(640, 480, BIP21, look)] * 3
    )
    with reading(f"camera:file:{pattern}?realtime=0") as (_, events):
        (scan,) = events.wait_for(CodeScanned, timeout=10)
    assert scan.payload == BIP21
    still = tmp_path / "photo.png"
    cv2.imwrite(str(still), synth.frame(1920, 1080, BIP21, synth.CASES["low_contrast"]))
    with reading(f"camera:image:{still}") as (_, events):
        (scan,) = events.wait_for(CodeScanned, timeout=10)
        events.wait(lambda _: ReaderState.ENDED in events.states(), timeout=5)
    assert scan.payload == BIP21


class SlowDecoder:
    """The default decoder plus 60 ms: a box too slow for its camera."""

    name = "slow"

    def __init__(self) -> None:
        self.inner = get_decoder()
        self.calls = 0

    def decode(self, gray: Any) -> Any:
        self.calls += 1
        time.sleep(0.06)
        return self.inner.decode(gray)


def test_realtime_source_drops_frames_when_decoding_falls_behind(tmp_path: Path) -> None:
    frames = [synth.frame(640, 480, None, seed=i) for i in range(10)]
    frames += [synth.frame(640, 480, BIP21, seed=i) for i in range(30)]
    video = synth.write_video(tmp_path / "fast.avi", frames, fps=30)
    with reading(f"camera:file:{video}") as (reader, events):
        reader.pipeline.decoder = SlowDecoder()
        (scan,) = events.wait_for(CodeScanned, timeout=10)
        events.wait(lambda _: ReaderState.ENDED in events.states(), timeout=10)
    assert scan.payload == BIP21
    stats = reader.stats
    assert stats.dropped > 0
    assert stats.frames + stats.dropped <= 40  # each frame decoded or dropped, never queued
    assert stats.frames < 40


def test_missing_source_is_a_state_then_reconnects_when_it_appears(tmp_path: Path) -> None:
    folder = tmp_path / "cam"
    folder.mkdir()
    pattern = folder / "%04d.png"
    with reading(f"camera:file:{pattern}?realtime=0&reconnect=0.05") as (_, events):
        assert events.wait(lambda _: ReaderState.DISCONNECTED in events.states(), timeout=5)
        # The frames appear whole (a rename is atomic): written in place, a half-written
        # 0000.png was opened by the reader's 50 ms retry in ~3 runs of 10, read as no frame,
        # and the file source ended without a scan.
        synth.write_sequence(tmp_path / "staging", [synth.frame(640, 480, BIP21)] * 2)
        for name in ("0000.png", "0001.png"):
            (tmp_path / "staging" / name).replace(folder / name)
        (scan,) = events.wait_for(CodeScanned, timeout=10)
    assert scan.payload == BIP21
    assert [e.code for e in events.errors()] == ["camera_missing"]  # reported once, not per retry
    states = events.states()
    assert states.index(ReaderState.DISCONNECTED) < states.index(ReaderState.READY)


def test_camera_index_without_a_camera_is_disconnected_not_a_crash() -> None:
    with reading("camera:7?reconnect=0.2") as (_reader, events):
        assert events.wait(lambda _: ReaderState.DISCONNECTED in events.states(), timeout=10)
    (err,) = events.errors()
    assert err.code == "camera_missing" and "/dev/video" in err.hint
    assert events.states()[-1] == ReaderState.STOPPED


def test_unreadable_still_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with reading(f"camera:image:{bad}") as (_, events):
        events.wait(lambda _: bool(events.errors()), timeout=5)
    assert [e.code for e in events.errors()] == ["image_unreadable"]


def test_scan_path_reports_time_to_first_payload(counter_video: Path, tmp_path: Path) -> None:
    report = scan_path(str(counter_video), accept=is_payment)
    assert report.payloads == [BIP21]
    assert report.rejected == ["https://shop.example/loyalty/123"]
    assert report.first_frame == 12 and report.first_ms is not None and report.frames == 30
    with pytest.raises(CameraError, match="no such file"):
        scan_path(str(tmp_path / "nope.avi"))


def test_camera_that_stops_sending_frames_reconnects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live camera (an index) whose stream breaks: lost, missing for a while, then back."""
    from drivers.camera import reader as camera_reader

    empty = synth.write_video(tmp_path / "empty.avi", [synth.frame(640, 480, None, seed=i) for i in range(5)])
    paying = synth.write_video(
        tmp_path / "pay.avi", [synth.frame(640, 480, BIP21, seed=i) for i in range(20)]
    )
    # what VideoCapture(0) does over time: a short stream, unplugged, plugged in again
    sources: list[Any] = [cv2.VideoCapture(str(empty)), None, cv2.VideoCapture(str(paying))]
    monkeypatch.setattr(
        camera_reader, "open_capture", lambda kind, target: sources.pop(0) if sources else None
    )
    with reading("camera:0?reconnect=0.05") as (_, events):
        (scan,) = events.wait_for(CodeScanned, timeout=10)
    assert scan.payload == BIP21
    assert [e.code for e in events.errors()][:2] == ["camera_lost", "camera_missing"]
    states = events.states()
    assert states[:4] == [
        ReaderState.STARTING,
        ReaderState.READY,
        ReaderState.DISCONNECTED,
        ReaderState.READY,
    ]


@pytest.mark.parametrize("decoder", [d for d in DECODERS if available_decoders()[d] == "ok"])
def test_a_still_with_two_codes_yields_both(decoder: str, tmp_path: Path) -> None:
    import numpy as np

    other = synth.PAYLOADS["eip681"]
    still = np.full((400, 820), 255, dtype=np.uint8)
    still[20:380, 20:380] = synth.qr_image(BIP21, 360)
    still[20:380, 440:800] = synth.qr_image(other, 360)
    path = tmp_path / "two.png"
    assert cv2.imwrite(str(path), still)
    report = scan_path(str(path), decoder=decoder, accept=is_payment)
    assert sorted(report.payloads) == sorted([BIP21, other]) and report.rejected == []
    # a live reader still takes one payment per frame: the first, the other left unread
    live = ScanPipeline(decoder=get_decoder(decoder), accept=is_payment).process(still)
    assert live.accepted in (BIP21, other) and live.more == [] and live.rejected == []
    assert scan_path(str(path), decoder=decoder, accept=is_payment, first_only=True).payloads == [
        live.accepted
    ]

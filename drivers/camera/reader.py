"""The camera reader: a grabber thread keeps only the newest frame, a decoder thread runs the
pipeline on it. When decoding falls behind, frames are dropped (counted), never queued.

A camera that is missing or goes away is a DISCONNECTED state and a :class:`ReaderError`, then the
reader reopens it every ``reconnect`` seconds. Files play at their own frame rate (``realtime``),
or as fast as the decoder goes without dropping (``realtime=0``, used by tests and ``scan``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2

from drivers.camera import CameraError
from drivers.camera.decoders import DEFAULT_DECODER, get_decoder
from drivers.camera.pipeline import Accept, ScanPipeline, accept_any
from drivers.events import CodeScanned, ReaderError, ReaderState
from drivers.threaded import ThreadedReader

# OpenCV prints a WARN line each time a missing camera is opened; the reader reports that itself
# (one ReaderError, then a state), and retries every second, so the library's lines are only noise.
_cv_logging = getattr(getattr(cv2, "utils", None), "logging", None)
if _cv_logging is not None:
    _cv_logging.setLogLevel(_cv_logging.LOG_LEVEL_ERROR)

CAMERA_HINT = (
    "check that the camera is plugged in and not used by another program; `ls /dev/video*` lists "
    "cameras, and your user needs the `video` group"
)


FILE_HINT = (
    "check the path: camera:file:PATH takes a video file OpenCV reads (.avi, .mp4, .mkv...) or "
    "an image pattern like frames/%04d.png"
)


def file_problem(path: str) -> CameraError | None:
    """Why a ``camera:file:`` source cannot be there, for a plain file; a pattern's frames may
    still be written (``frames/%04d.png``), so only opening it tells."""
    if "%" in path or os.path.exists(path):
        return None
    return CameraError(f"{path}: no such file", title="Video not found", hint=FILE_HINT)


def open_capture(kind: str, target: str) -> Any:
    """An opened VideoCapture, or None. OpenCV reports a missing camera by isOpened() == False."""
    cap = cv2.VideoCapture(int(target)) if kind == "index" else cv2.VideoCapture(target)
    if not cap.isOpened():
        cap.release()
        return None
    return cap


def read_image(path: str) -> Any:
    if not os.path.exists(path):
        raise CameraError(f"{path}: no such file", title="Image not found")
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise CameraError(f"{path}: not an image OpenCV can read", title="Unreadable image")
    return image


def iter_frames(path: str) -> Iterator[Any]:
    """Frames of a still image, a video or an image pattern, for ``cryptopos scan``."""
    if path.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")) and "%" not in path:
        yield read_image(path)
        return
    missing = file_problem(path)
    if missing is not None:
        raise missing
    cap = open_capture("file", path)
    if cap is None:
        raise CameraError(
            f"{path}: not a video or image sequence OpenCV can read", title="Unreadable video", hint=FILE_HINT
        )
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


@dataclass
class ScanReport:
    path: str
    payloads: list[str] = field(default_factory=list)  # accepted, in order found
    rejected: list[str] = field(default_factory=list)  # decoded codes ``accept`` refused
    frames: int = 0
    first_ms: float | None = None  # processing time until the first accepted payload
    first_frame: int | None = None
    total_ms: float = 0.0


def scan_path(
    path: str, *, decoder: str = DEFAULT_DECODER, accept: Accept = accept_any, first_only: bool = False
) -> ScanReport:
    pipeline = ScanPipeline(
        decoder=get_decoder(decoder),
        accept=accept,
        full_every=1,
        dedup_s=float("inf"),
        every_code=not first_only,
    )
    report = ScanReport(path)
    started = time.perf_counter()
    for index, frame in enumerate(iter_frames(path)):
        result = pipeline.process(frame)
        report.frames += 1
        report.rejected += result.rejected
        if result.accepted is not None:
            report.payloads += [result.accepted, *result.more]
            if report.first_ms is None:
                report.first_ms = (time.perf_counter() - started) * 1000
                report.first_frame = index
            if first_only:
                break
    report.total_ms = (time.perf_counter() - started) * 1000
    return report


class CameraReader(ThreadedReader):
    crash_title = "Camera reader failed"

    def __init__(
        self,
        device: str,
        kind: str,
        target: str,
        *,
        decoder: str = DEFAULT_DECODER,
        accept: Accept = accept_any,
        dedup: float = 2.0,
        realtime: bool = True,
        loop: bool = False,
        reconnect: float = 1.0,
        fast_width: int = 640,
    ) -> None:
        super().__init__(device)
        self.kind = kind
        self.target = target
        self.realtime = realtime and kind != "index"  # a camera paces itself
        self.loop = loop
        self.reconnect = reconnect
        self.pipeline = ScanPipeline(
            decoder=get_decoder(decoder), accept=accept, dedup_s=dedup, fast_width=fast_width
        )
        self.decoder_name = decoder
        # the single frame slot between grabber and decoder
        self._slot_lock = threading.Condition()
        self._slot: tuple[Any, float] | None = None
        self._slot_taken = True

    @property
    def stats(self) -> Any:
        return self.pipeline.stats

    def _wake(self) -> None:
        with self._slot_lock:
            self._slot_lock.notify_all()

    def _serve(self) -> None:
        if self.kind == "image":
            self._run_image()
        else:
            self._run_video()

    def _run_image(self) -> None:
        try:
            image = read_image(self.target)
        except CameraError as exc:
            self._emit(
                ReaderError(reader=self.device, title=exc.title, message=exc.message, code="image_unreadable")
            )
            self._set_state(ReaderState.DISCONNECTED, exc.message)
            self._stop.wait()
            return
        self._set_state(ReaderState.READY)
        self.pipeline.full_every = 1
        self._handle(self.pipeline.process(image), time.perf_counter())
        self._set_state(ReaderState.ENDED, "still image decoded")
        self._stop.wait()

    def _file_failed(self, problem: CameraError, code: str) -> None:
        """A file is not a camera that may come back: say what is wrong with it, once, and end."""
        self._emit(
            ReaderError(
                reader=self.device, title=problem.title, message=problem.message, hint=problem.hint, code=code
            )
        )
        self._set_state(ReaderState.ENDED, problem.message)
        self._stop.wait()

    def _run_video(self) -> None:
        missing_reported = False
        while not self._stop.is_set():
            missing = file_problem(self.target) if self.kind == "file" else None
            if missing is not None:
                self._file_failed(missing, "file_missing")
                return
            cap = open_capture(self.kind, self.target)
            if cap is None and self.kind == "file" and "%" not in self.target:
                unreadable = CameraError(
                    f"{self.target}: not a video OpenCV can read", title="Unreadable video", hint=FILE_HINT
                )
                self._file_failed(unreadable, "file_unreadable")
                return
            if cap is None:
                if not missing_reported:
                    camera = self.kind == "index"
                    self._emit(
                        ReaderError(
                            reader=self.device,
                            title="Camera not found" if camera else "No frames yet",
                            message=f"camera {self.target} cannot be opened"
                            if camera
                            else f"{self.target}: no frame to read yet; waiting for the first one",
                            hint=CAMERA_HINT if camera else FILE_HINT,
                            code="camera_missing",
                        )
                    )
                    missing_reported = True
                self._set_state(
                    ReaderState.DISCONNECTED,
                    "cannot open the camera" if self.kind == "index" else "no frames yet",
                )
                self._stop.wait(self.reconnect)
                continue
            missing_reported = False
            self._set_state(ReaderState.READY)
            ended = self._stream(cap)
            if self._stop.is_set():
                return
            if ended and self.kind == "file":
                if self.loop:
                    continue
                self._set_state(ReaderState.ENDED, "end of the video")
                self._stop.wait()
                return
            self._emit(
                ReaderError(
                    reader=self.device,
                    title="Camera disconnected",
                    message=f"camera {self.target} stopped sending frames",
                    hint=CAMERA_HINT,
                    code="camera_lost",
                )
            )
            self._set_state(ReaderState.DISCONNECTED, "no frames")
            self._stop.wait(self.reconnect)

    def _stream(self, cap: Any) -> bool:
        """Run grabber + decoder until the source ends (True) or fails (False) or stop()."""
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        period = 1.0 / fps if self.realtime and 1.0 <= fps <= 240.0 else 0.0
        outcome = {"ended": False}
        self._reset_slot()
        done = threading.Event()

        def grab() -> None:
            next_at = time.monotonic()
            try:
                while not self._stop.is_set():
                    ok, frame = cap.read()
                    if not ok:
                        outcome["ended"] = True
                        return
                    with self._slot_lock:
                        if self.realtime or self.kind == "index":
                            if not self._slot_taken:
                                self.pipeline.stats.dropped += 1  # the decoder is behind: drop it
                        else:
                            while not self._slot_taken and not self._stop.is_set():
                                self._slot_lock.wait(0.1)
                        self._slot, self._slot_taken = (frame, time.perf_counter()), False
                        self._slot_lock.notify_all()
                    if period:
                        next_at += period
                        delay = next_at - time.monotonic()
                        if delay > 0:
                            self._stop.wait(delay)
                        else:
                            next_at = time.monotonic()
            finally:
                done.set()
                with self._slot_lock:
                    self._slot_lock.notify_all()

        grabber = threading.Thread(target=grab, name=f"grabber {self.device}", daemon=True)
        grabber.start()
        try:
            while not self._stop.is_set():
                with self._slot_lock:
                    while self._slot_taken and not done.is_set() and not self._stop.is_set():
                        self._slot_lock.wait(0.1)
                    slot = None if self._slot_taken else self._slot
                    if slot is None:
                        if done.is_set():
                            break
                        continue
                    frame, grabbed_at = slot
                    self._slot_taken = True
                    self._slot_lock.notify_all()
                self._handle(self.pipeline.process(frame), grabbed_at)
        finally:
            self._stop_grabber(grabber)
            cap.release()
        return outcome["ended"]

    def _reset_slot(self) -> None:
        self._slot, self._slot_taken = None, True

    def _stop_grabber(self, grabber: threading.Thread) -> None:
        with self._slot_lock:
            self._slot_taken = True
            self._slot_lock.notify_all()
        grabber.join(timeout=1.0)

    def _handle(self, result: Any, grabbed_at: float) -> None:
        for text in result.rejected:
            self._emit(
                ReaderError(
                    reader=self.device,
                    title="Not a payment code",
                    message=f"the code shown is not a payment this terminal takes ({_preview(text)})",
                    hint="show the payment QR code from the wallet",
                    code="code_rejected",
                )
            )
        if result.accepted is not None:
            self._emit(
                CodeScanned(
                    reader=self.device,
                    payload=result.accepted,
                    decoder=self.decoder_name,
                    elapsed_ms=(time.perf_counter() - grabbed_at) * 1000,
                )
            )


def _preview(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."

"""Camera QR readers through OpenCV: ``camera:0`` (a camera index), ``camera:file:clip.avi`` (any
video OpenCV reads, or an image pattern like ``frames/%04d.png``), ``camera:image:photo.png``.

Options after ``?``: ``decoder`` (zxing, pyzbar, cv2; default zxing), ``dedup`` (s), ``realtime``
(0/1: play files at their frame rate, dropping frames when decoding falls behind; default 1),
``loop`` (0/1), ``reconnect`` (s), ``fast_width`` (pixels of the fast pass). The caller may pass
``accept=`` (a ``text -> bool`` predicate, e.g. "parses as a payment") to :func:`open_reader`.

Importing this package imports no OpenCV.

Errors::

    DriverError (drivers.registry)
     ├── DeviceStringError        bad device string or option
     ├── MissingExtraError        OpenCV/numpy/a decoder missing: pip install 'cryptopos[camera]'
     └── CameraError              a file or image cannot be read (title, message, hint)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.registry import (
    DeviceStringError,
    DriverError,
    MissingExtraError,
    Probe,
    positive_float,
    split_options,
)

if TYPE_CHECKING:
    from drivers.camera.reader import CameraReader

DECODER_NAMES = ("zxing", "pyzbar", "cv2")


class CameraError(DriverError):
    def __init__(self, message: str, *, title: str = "Camera problem", hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.title = title
        self.hint = hint


def _decoder(text: str) -> str:
    if text not in DECODER_NAMES:
        raise ValueError(f"known decoders: {', '.join(DECODER_NAMES)}")
    return text


def _flag(text: str) -> bool:
    if text not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError("expected 0 or 1")
    return text in ("1", "true", "yes")


def _width(text: str) -> int:
    value = int(text)
    if not 160 <= value <= 4096:
        raise ValueError("expected 160..4096 pixels")
    return value


OPTIONS = {
    "decoder": _decoder,
    "dedup": positive_float,
    "realtime": _flag,
    "loop": _flag,
    "reconnect": positive_float,
    "fast_width": _width,
}


def parse(device: str, rest: str) -> tuple[str, str, dict[str, object]]:
    """``(kind, target, options)``: kind is ``index``, ``file`` or ``image``."""
    body, options = split_options(device, rest, OPTIONS)
    kind, sep, target = body.partition(":")
    if body.isdigit():
        return "index", body, options
    if sep and kind in ("file", "image") and target:
        return kind, target, options
    raise DeviceStringError(
        f"unknown camera {device!r}; known: camera:INDEX (camera:0), camera:file:PATH "
        "(a video or an image pattern like frames/%04d.png), camera:image:PATH"
    )


def check(device: str, rest: str) -> None:
    parse(device, rest)


def require_cv2() -> None:
    try:
        import cv2  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        raise MissingExtraError("camera", "opencv-python-headless", "camera") from None


def open_reader(device: str, rest: str, **options: object) -> CameraReader:
    kind, target, parsed = parse(device, rest)
    unknown = sorted(set(options) - {*OPTIONS, "accept"})
    if unknown:
        raise DeviceStringError(
            f"unknown option {', '.join(unknown)} for {device!r}; known: accept, {', '.join(OPTIONS)}"
        )
    require_cv2()
    from drivers.camera.reader import CameraReader

    merged = {**parsed, **options}
    return CameraReader(device, kind, target, **merged)  # type: ignore[arg-type]


def probe(device: str, rest: str) -> Probe:
    """Open the camera, file or image and read one frame."""
    kind, target, options = parse(device, rest)
    require_cv2()
    from drivers.camera.decoders import DEFAULT_DECODER, get_decoder
    from drivers.camera.reader import CAMERA_HINT, FILE_HINT, file_problem, open_capture, read_image

    get_decoder(str(options.get("decoder", DEFAULT_DECODER)))
    if kind == "image":
        try:
            img = read_image(target)
        except CameraError as exc:
            return Probe(device, False, exc.message, exc.hint or "check the path")
        return Probe(device, True, f"image {img.shape[1]}x{img.shape[0]}")
    if kind == "file":
        missing = file_problem(target)
        if missing is not None:
            return Probe(device, False, missing.message, missing.hint)
    cap = open_capture(kind, target)
    if cap is None:
        if kind == "index":
            return Probe(device, False, f"camera {target} cannot be opened", CAMERA_HINT)
        return Probe(device, False, f"{target}: not a video or image sequence OpenCV can read", FILE_HINT)
    try:
        ok, frame = cap.read()
        if not ok:
            return Probe(device, False, "opened but sends no frames", CAMERA_HINT)
        return Probe(device, True, f"{frame.shape[1]}x{frame.shape[0]} frames")
    finally:
        cap.release()

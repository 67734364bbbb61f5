"""QR decoder backends behind one small interface: ``decode(gray) -> [Decoded]``.

* ``zxing``: zxing-cpp, the default: fastest and the most robust in our measurements
  (docs/BENCHMARKS.md, QR decoders);
* ``pyzbar``: ZBar through pyzbar (needs the system library ``libzbar0``);
* ``cv2``: OpenCV's ``QRCodeDetectorAruco`` (its plain ``QRCodeDetector`` misses too many).

Each is imported only when chosen; a missing one raises :class:`MissingExtraError` naming
``cryptopos[camera]`` (and, for pyzbar, the ``libzbar0`` system package).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.registry import DeviceStringError, MissingExtraError

DEFAULT_DECODER = "zxing"
DECODERS = ("zxing", "pyzbar", "cv2")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    # corners in the pixel coordinates of the image that was decoded, when the backend gives them
    points: tuple[tuple[float, float], ...] = ()
    valid: bool = True  # False: a code was located but not decoded (a candidate for a retry)


class Decoder(Protocol):
    name: str

    def decode(self, gray: Any) -> list[Decoded]: ...


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class ZxingDecoder:
    name = "zxing"

    def __init__(self) -> None:
        try:
            import zxingcpp
        except ImportError:
            raise MissingExtraError("camera", "zxing-cpp", "camera") from None
        self._z: Any = zxingcpp
        self._formats: Any = zxingcpp.BarcodeFormat.QRCode

    def decode(self, gray: Any) -> list[Decoded]:
        out = []
        for r in self._z.read_barcodes(gray, formats=self._formats, return_errors=True):
            pos = r.position
            pts = tuple(
                (float(p.x), float(p.y))
                for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
            )
            out.append(Decoded(r.text if r.valid else "", pts, bool(r.valid)))
        return out


class PyzbarDecoder:
    name = "pyzbar"

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except ImportError as exc:
            if "zbar" in str(exc).lower() and "shared library" in str(exc).lower():
                raise MissingExtraError(
                    "camera", "libzbar0 (system package: apt-get install libzbar0)", "camera"
                ) from None
            raise MissingExtraError("camera", "pyzbar", "camera") from None
        self._decode = pyzbar.decode
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, gray: Any) -> list[Decoded]:
        return [
            Decoded(_text(r.data), tuple((float(p.x), float(p.y)) for p in r.polygon))
            for r in self._decode(gray, symbols=self._symbols)
        ]


class Cv2Decoder:
    name = "cv2"

    def __init__(self) -> None:
        try:
            import cv2
        except ImportError:
            raise MissingExtraError("camera", "opencv-python-headless", "camera") from None
        factory = getattr(cv2, "QRCodeDetectorAruco", None) or cv2.QRCodeDetector
        self._detector = factory()

    def decode(self, gray: Any) -> list[Decoded]:
        ok, texts, points, _ = self._detector.detectAndDecodeMulti(gray)
        if not ok or points is None:
            return []
        out = []
        for text, quad in zip(texts, points, strict=False):
            pts = tuple((float(x), float(y)) for x, y in quad)
            out.append(Decoded(text, pts, bool(text)))
        return out


_FACTORIES: dict[str, Callable[[], Decoder]] = {
    "zxing": ZxingDecoder,
    "pyzbar": PyzbarDecoder,
    "cv2": Cv2Decoder,
}


def get_decoder(name: str = DEFAULT_DECODER) -> Decoder:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise DeviceStringError(f"unknown QR decoder {name!r}; known: {', '.join(DECODERS)}") from None
    return factory()


def available_decoders() -> dict[str, str]:
    """Each decoder's name -> ``"ok"`` or why it cannot be used (for ``cryptopos doctor``)."""
    out = {}
    for name in DECODERS:
        try:
            get_decoder(name)
        except MissingExtraError as exc:
            out[name] = str(exc)
        except Exception as exc:  # a broken native library must show up in doctor, not crash it
            out[name] = f"{type(exc).__name__}: {exc}"
        else:
            out[name] = "ok"
    return out

"""Synthetic camera frames with QR codes, for tests, benchmarks and demos without a camera.

Frames are grayscale numpy arrays: a textured background, a QR code of a given size, optionally
rotated, seen in perspective, blurred, low in contrast, or with noise. Videos are written with
``cv2.VideoWriter`` (MJPG ``.avi``, which the headless OpenCV wheel can encode), image sequences
as PNG files ``%04d.png``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import qrcode
from qrcode.constants import ERROR_CORRECT_M

# The common payment payload shapes a customer shows or a terminal renders. Built with the payload
# layer's builders (valid checksums and signature) and checked against its parser by the test suite.
PAYLOADS = {
    "bip21": "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.00014087&label=Demo%20Cafe",
    "bolt11": (
        "lightning:lnbc140870n1p5ww7qqsp5yg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3qpp5qqqsyqcyq5rqw"
        "zqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sdq0g3jk6meqgdskvegxqzjccqpj9qrsgqfrr9x694erq2vsgt4qrvq30cyuq"
        "np6ymxzd3tcvfm05sqt23p7n4lgdlugpp4h59jes0q4arnqvdd80m93wt8sgklf6ta98ujxyxvtspy6td25"
    ),
    "lnurl": (
        "LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HX"
        "QURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS"
    ),
    "eip681": (
        "ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48@1/transfer"
        "?address=0x8e23Ee67d1332aD560396262C48ffbB01F93D052&uint256=1.25e6"
    ),
}


def qr_matrix(text: str, *, border: int = 4) -> Any:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    qr.add_data(text)
    qr.make(fit=True)
    return np.array(qr.get_matrix(), dtype=bool)


def qr_image(text: str, side: int, *, border: int = 4) -> Any:
    """The code as a ``side``×``side`` grayscale image (dark modules 0, light 255)."""
    m = qr_matrix(text, border=border)
    img = np.where(m, 0, 255).astype(np.uint8)
    return cv2.resize(
        img, (side, side), interpolation=cv2.INTER_NEAREST if side >= len(m) else cv2.INTER_AREA
    )


def background(width: int, height: int, *, seed: int = 0) -> Any:
    """A counter-top texture: smooth gradients and a little noise, no code-like structure."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 150 + 40 * np.sin(xx / (width / 3.1) + seed) * np.cos(yy / (height / 2.3))
    base += rng.normal(0, 6, size=(height, width))
    return np.clip(base, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Look:
    """How the code appears in the frame."""

    size: float = 0.25  # code side as a fraction of the frame width
    angle: float = 0.0  # degrees, in-plane rotation
    perspective: float = 0.0  # 0..0.3: how far one side of the code recedes
    blur: float = 0.0  # gaussian sigma in pixels of the frame
    contrast: float = 1.0  # 1 full; 0.25 is a dim code on a grey counter
    noise: float = 0.0  # gaussian noise sigma
    center: tuple[float, float] = (0.5, 0.5)


CASES = {
    "clean": Look(),
    "rotated": Look(angle=33.0),
    "perspective": Look(perspective=0.22, angle=8.0),
    "blur": Look(blur=1.2),
    "low_contrast": Look(contrast=0.28, noise=2.0),
}


def frame(width: int, height: int, text: str | None, look: Look = Look(), *, seed: int = 0) -> Any:
    """A grayscale frame with ``text`` as a QR code (or no code when ``text`` is None)."""
    img = background(width, height, seed=seed).astype(np.float32)
    if text is not None:
        side = max(21, round(width * look.size))
        code = qr_image(text, side).astype(np.float32)
        c = look.contrast
        # a dim code: dark modules and light modules both close to mid-grey
        code = 128 + (code - 128) * c
        cx, cy = look.center[0] * width, look.center[1] * height
        half = side / 2
        src = np.array([[0, 0], [side, 0], [side, side], [0, side]], dtype=np.float32)
        p = look.perspective
        corners = [[-half, -half * (1 - p)], [half, -half], [half, half], [-half, half * (1 - p)]]
        dst = np.array(corners, dtype=np.float32)
        a = np.deg2rad(look.angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=np.float32)
        dst = (dst @ rot.T + np.array([cx, cy], dtype=np.float32)).astype(np.float32)
        m = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(code, m, (width, height), flags=cv2.INTER_LINEAR, borderValue=-1.0)
        mask = cv2.warpPerspective(
            np.ones_like(code), m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0
        )
        img = img * (1 - mask) + np.where(warped < 0, img, warped) * mask
    if look.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), look.blur)
    if look.noise > 0:
        img += np.random.default_rng(seed + 1).normal(0, look.noise, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_video(path: str | os.PathLike[str], frames: Iterable[Any], *, fps: float = 30.0) -> Path:
    """An MJPG ``.avi`` (the headless OpenCV wheel has no H.264 encoder)."""
    out = Path(path)
    writer: Any = None
    try:
        for f in frames:
            if writer is None:
                h, w = f.shape[:2]
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h), True)
                if not writer.isOpened():
                    raise OSError(f"OpenCV cannot write {out}")
            writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if f.ndim == 2 else f)
    finally:
        if writer is not None:
            writer.release()
    return out


def write_sequence(folder: str | os.PathLike[str], frames: Iterable[Any]) -> str:
    """PNG files ``0000.png``...; returns the ``%04d.png`` pattern OpenCV reads."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(d / f"{i:04d}.png"), f)
    return str(d / "%04d.png")


def to_bgr(gray: Any) -> Any:
    """What a colour camera hands the pipeline."""
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)

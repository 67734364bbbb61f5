"""SVG screenshots to PNG with ``rsvg-convert`` (librsvg2-bin): faithful fonts and block
characters, so a QR code in the picture decodes (cairosvg garbled them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class PictureError(Exception):
    """The PNG could not be made; the message says what to install or check."""


def svg_to_png(svg: str, png: Path, *, zoom: float = 1.0) -> Path:
    tool = shutil.which("rsvg-convert")
    if tool is None:
        raise PictureError(
            "rsvg-convert is not installed: sudo apt-get install --no-install-recommends librsvg2-bin"
        )
    png.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(  # noqa: S603 - a fixed tool found on PATH, no shell
        [tool, "--format=png", f"--zoom={zoom}", "--background-color=white", "-o", str(png)],
        input=svg.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise PictureError(f"rsvg-convert failed: {done.stderr.decode(errors='replace').strip()}")
    return png

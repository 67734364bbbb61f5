"""Reading printed bytes back, for assertions: the stream decoded with the profile's code pages,
and a raster image as a grey picture for the project's own QR decoder."""

from __future__ import annotations

from typing import Any

from drivers.printer.decode import Printout, Raster, decode
from drivers.printer.encode import code_pages
from terminal.domain.money import Money, asset
from terminal.domain.receipt import Receipt, receipt_link


def read_back(data: bytes, profile: str = "default") -> Printout:
    return decode(data, code_pages=code_pages(profile))


def raster_to_gray(raster: Raster, *, margin: int = 16) -> Any:
    """The image as printed (black dots on white paper), with white paper around it."""
    import numpy as np

    bits = np.unpackbits(np.frombuffer(raster.data, dtype=np.uint8)).reshape(raster.height, raster.width)
    gray = np.where(bits == 1, 0, 255).astype(np.uint8)
    return np.pad(gray, margin, constant_values=255)


def decode_qr(raster: Raster) -> list[str]:
    from drivers.camera.decoders import get_decoder

    return [d.text for d in get_decoder("zxing").decode(raster_to_gray(raster)) if d.valid]


def sample_receipt(**changes: Any) -> Receipt:
    eur = asset("EUR")
    values: dict[str, Any] = {
        "merchant": "Demo Café",
        "terminal": "t_demo_01",
        "at": 1_795_000_000.0,
        "status": "approved",
        "fiat": Money(450, eur),
        "tip": Money(41, eur),
        "crypto": Money(4512, asset("BTC")),
        "rate": "99734.12",
        "quote_id": "q_0123456789abcdef0123",
        "payment_id": "pay_5f1c2a9e0b7d4c3e8a61",
        "reference": "t_demo_01-19a2b3c4d5e-0f1e2d3c",
    }
    values.update(changes)
    values.setdefault("link", receipt_link(values["payment_id"], values["reference"]))
    return Receipt(**values)

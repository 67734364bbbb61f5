"""Readers of payments: NFC (nfcpy), camera QR (OpenCV), and simulated ones.

Chosen by a device string through :mod:`drivers.registry`. Importing this package
imports no driver library: ``nfc`` and ``cv2`` load only when such a reader opens.
"""

from drivers.events import (
    CodeScanned,
    ReaderError,
    ReaderEvent,
    ReaderState,
    ReaderStateChanged,
    TagRead,
)
from drivers.registry import DeviceStringError, MissingExtraError, Reader, open_reader

__all__ = [
    "CodeScanned",
    "DeviceStringError",
    "MissingExtraError",
    "Reader",
    "ReaderError",
    "ReaderEvent",
    "ReaderState",
    "ReaderStateChanged",
    "TagRead",
    "open_reader",
]

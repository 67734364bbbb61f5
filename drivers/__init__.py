"""Readers of payments: NFC (nfcpy), camera QR (OpenCV), and simulated ones.

Chosen by a device string through :mod:`drivers.registry`: ``nfc:...`` (:mod:`drivers.nfc`),
``camera:...`` (:mod:`drivers.camera`), ``sim:nfc`` / ``sim:qr`` (:mod:`drivers.sim`). Importing this
package imports no driver library: ``nfc`` and ``cv2`` load only when such a reader opens.
Readers emit raw payload text and bytes (:mod:`drivers.events`); parsing is the terminal's job.
"""

from drivers.events import (
    CodeScanned,
    ReaderError,
    ReaderEvent,
    ReaderState,
    ReaderStateChanged,
    TagRead,
)
from drivers.registry import DeviceStringError, MissingExtraError, Probe, Reader, open_reader, probe_device

__all__ = [
    "CodeScanned",
    "DeviceStringError",
    "MissingExtraError",
    "Probe",
    "Reader",
    "ReaderError",
    "ReaderEvent",
    "ReaderState",
    "ReaderStateChanged",
    "TagRead",
    "open_reader",
    "probe_device",
]

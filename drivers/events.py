"""What readers tell the terminal. Events are named in the past tense."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field


class ReaderState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"  # waiting for a tap or a code
    READING = "reading"  # a card is in the field
    DISCONNECTED = "disconnected"  # unplugged or not found; retrying
    BUSY = "busy"  # another process holds the device
    ENDED = "ended"  # a file or still image has been read to its end
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderEvent:
    reader: str  # the device string
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True, kw_only=True)
class TagRead(ReaderEvent):
    """An NFC tag or phone was read. ``payload`` is the text a parser takes (a URI or token)."""

    payload: str
    uid: str | None = None
    tag_type: str | None = None
    ndef: bytes | None = None  # the raw NDEF message, when there was one
    elapsed_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeScanned(ReaderEvent):
    """A QR code was decoded from a camera frame or image."""

    payload: str
    decoder: str | None = None
    elapsed_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderStateChanged(ReaderEvent):
    state: ReaderState
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderError(ReaderEvent):
    """Something a cashier should see: a short title, what happened, what to do next."""

    title: str
    message: str
    hint: str = ""
    code: str = "reader_error"

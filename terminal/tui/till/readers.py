"""Readers at the till. They are blocking drivers: the register asks its host to run them
(``ReadersRequested``) and gives it :meth:`ReaderSteps.reader_loop`, which the TUI runs in a
thread worker; their events come back through :meth:`ReaderSteps.reader_reported`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from urllib.parse import quote as urlquote

from drivers import CodeScanned, ReaderError, ReaderEvent, ReaderState, ReaderStateChanged, TagRead
from drivers.registry import DriverError, MissingExtraError, check_device_string
from terminal.domain import session as s
from terminal.sale import reader_for
from terminal.tui.till.base import TillBase
from terminal.tui.updates import (
    ReadersReleased,
    ReadersRequested,
    ReaderStatus,
    ReaderUpdated,
    RegisterError,
)

# What the demo keys present, through a real simulated reader (drivers.sim).
DEMO_PAYLOADS: dict[str, tuple[str, str]] = {
    "tap": ("nfc", "cryptopos-test:card:approve"),
    "scan": ("qr", "cryptopos-test:wallet:approve"),
    # the shape of a Bolt Card tap (NTAG 424 SUN: p = encrypted UID+counter, c = CMAC)
    "boltcard": (
        "nfc",
        "lnurlw://demo.cryptopos.invalid/ln?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE",
    ),
    "decline": ("nfc", "cryptopos-test:card:decline"),
    # a QR that is not a payment (a wifi login): the till says so and keeps waiting
    "garbage": ("qr", "WIFI:S:cafe;T:WPA;P:not-a-payment;;"),
}


# What says a reader cannot take a payment now (as opposed to one card it could not read).
LOST_STATES = frozenset({ReaderState.DISCONNECTED, ReaderState.BUSY})
LOST_CODES = frozenset(
    {
        "reader_unavailable",  # nfcpy: not found, busy, no permission, unplugged
        "camera_missing",
        "camera_lost",
        "file_missing",
        "file_unreadable",
        "reader_crashed",
        "crashed",
        "bad_device",
        "missing_extra",
        "open_failed",
    }
)


def _open_failure(device: str, exc: Exception) -> ReaderError:
    """What the cashier is told when ``device`` cannot be opened."""
    if isinstance(exc, MissingExtraError):
        title, message, hint, code = (
            "Reader library missing",
            str(exc),
            f"install it: pip install 'cryptopos[{exc.extra}]'",
            "missing_extra",
        )
    elif isinstance(exc, DriverError):
        title, message, hint, code = (
            "Reader not available",
            str(exc),
            "check terminal.readers in the configuration (Settings, key 8)",
            "bad_device",
        )
    else:  # a driver bug must become a notice, not a crash of the till
        title, message, hint, code = (
            "Reader failed to open",
            f"{type(exc).__name__}: {exc}",
            "unplug and replug the reader, then start the sale again",
            "open_failed",
        )
    return ReaderError(reader=device, title=title, message=message, hint=hint, code=code)


class ReaderSteps(TillBase):
    def reader_loop(self, device: str, sink: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
        """Run one reader until ``stop`` is set. Blocking: the host runs it in a thread worker.
        Opening it there keeps heavy imports (nfcpy, OpenCV) off the screen's thread."""
        try:
            reader = reader_for(device, self.reader_factory, clock=self.clock)
        except Exception as exc:
            sink(_open_failure(device, exc))
            return
        try:
            reader.start(sink)
            stop.wait()
        except Exception as exc:
            sink(
                ReaderError(
                    reader=device,
                    title="Reader stopped",
                    message=f"{type(exc).__name__}: {exc}",
                    hint="the other readers still work; restart the terminal if it persists",
                    code="crashed",
                )
            )
        finally:
            reader.stop()

    def reader_reported(self, event: ReaderEvent) -> tuple[str, str] | None:
        """Book a reader's event. Returns ``(payload, source)`` when it is a payment to present."""
        if isinstance(event, ReaderStateChanged):
            self._reader_state(event.reader, event.state.value, event.detail)
            if event.state in LOST_STATES:
                self._reader_lost(event.reader, event.detail or event.state.value)
            elif event.state in (ReaderState.READY, ReaderState.READING):
                self._reader_back(event.reader)
            return None
        if isinstance(event, ReaderError):
            self._reader_state(event.reader, "error", event.title)
            self._notice(event.title, event.message, event.hint, "error")
            if event.code in LOST_CODES:
                self._reader_lost(event.reader, event.title)
            return None
        if isinstance(event, TagRead | CodeScanned):
            return event.payload, event.reader
        return None

    def _reader_lost(self, device: str, why: str) -> None:
        """One of the sale's readers cannot take a payment now: the waiting screen says so at once."""
        if device not in self.sale_readers or self.lost.get(device) == why:
            return
        self.lost[device] = why
        self._publish_lost()

    def _reader_back(self, device: str) -> None:
        if self.lost.pop(device, None) is not None:
            self._publish_lost()

    def _publish_lost(self) -> None:
        # only a sale in progress shows it (a refund's scan runs the readers between sales)
        if self.session.state in (s.State.QUOTING, s.State.AWAITING_PAYMENT):
            self._publish(lost=tuple((d, w) for d, w in self.lost.items() if d in self.sale_readers))

    def use_readers(self, devices: Sequence[str]) -> None:
        """Move the waiting sale to ``devices`` (a reader was lost, or another one is at hand): the
        sale keeps its reference, quote and payment window; its old readers are let go."""
        if self.session.state is not s.State.AWAITING_PAYMENT:
            raise RegisterError(
                "No sale waiting", "a sale's readers can be changed while it waits for the customer"
            )
        chosen = tuple(d.strip() for d in devices if d.strip())
        if not chosen:
            raise RegisterError(
                "No reader", "choose a reader or type a device string", "e.g. nfc:usb or camera:0"
            )
        for device in chosen:
            try:
                check_device_string(device)
            except DriverError as exc:
                raise RegisterError(
                    "Reader not known", str(exc), "type a device string like nfc:usb"
                ) from None
        self._emit(ReadersReleased(self._generation))
        self.sale_readers = chosen
        self.lost = {d: why for d, why in self.lost.items() if d in chosen}
        self._generation += 1
        self._emit(ReadersRequested(chosen, self._generation))
        self._publish_lost()

    def _reader_state(self, device: str, state: str, detail: str) -> None:
        status = ReaderStatus(device, state, detail)
        self.readers[device] = status
        self._emit(ReaderUpdated(status))

    def demo_device(self, kind: str) -> str | None:
        """The one-shot simulated reader a demo key opens, or ``None`` when nothing is awaited."""
        if kind not in DEMO_PAYLOADS or self.core.shown_state() is not s.State.AWAITING_PAYMENT:
            return None
        family, payload = DEMO_PAYLOADS[kind]
        if kind == "boltcard" and self.demo_card is not None:
            payload = self.demo_card()  # a fresh SUN tap of the card the backend issued
        return f"sim:{family}?payload={urlquote(payload, safe='')}&delay=0"

"""The nfcpy reader: polls, activates, reads, debounces, and survives unplugging.

One thread per reader. It opens the ContactlessFrontend (reconnecting while the device is missing
or busy), senses the configured technologies, accepts phones that advertise SEL_RES 0x60 (nfcpy's
default on-discover skips them), reads ISO-DEP cards with :func:`protocol.read_iso_dep` and other
tags through nfcpy's NDEF support, then waits for the card to leave the field so a card held on
the reader is one event.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from typing import Any

import nfc
import nfc.clf
import nfc.tag
import nfc.tag.tt4

from drivers.events import ReaderError, ReaderState, TagRead
from drivers.nfc import DEFAULT_TARGETS
from drivers.nfc.errors import (
    NdefFormatError,
    NfcError,
    ReaderUnavailableError,
    TagLostError,
    TagUnsupportedError,
)
from drivers.nfc.protocol import CardContent, payload_from_ndef, read_iso_dep
from drivers.threaded import ThreadedReader

log = logging.getLogger(__name__)

UDEV_HINT = (
    "give your user access to the reader with a udev rule (python -m nfc prints one for your "
    'device), e.g. SUBSYSTEM=="usb", ATTRS{idVendor}=="054c", ATTRS{idProduct}=="06c1", '
    'GROUP="plugdev"; then re-plug the reader'
)
BUSY_HINT = (
    "another program or the kernel's NFC driver holds the reader: stop that program, or unload "
    "the module (sudo modprobe -r port100 pn533_usb pn533) and blacklist it in "
    "/etc/modprobe.d/blacklist-nfc.conf"
)
MISSING_HINT = (
    "plug the reader in (supported: Sony RC-S380, ACR122U, SCL3711, PN533/PN531/PN532 boards); "
    "`lsusb` should list it, `python -m nfc` checks it"
)


def accept_target(target: Any) -> bool:
    """nfcpy's on-discover decision, minus the part that skips phones.

    A phone doing HCE answers SEL_RES 0x60: bit 0x20 (ISO-DEP) and 0x40 (NFC-DEP). nfcpy's default
    skips anything with 0x40; we skip only targets that offer NFC-DEP alone (peer-to-peer)."""
    sel_res = getattr(target, "sel_res", None)
    if sel_res and sel_res[0] & 0x40 and not sel_res[0] & 0x20:
        return False
    sensf_res = getattr(target, "sensf_res", None)
    return not (sensf_res and bytes(sensf_res[1:3]) == b"\x01\xfe")


def _target_id(target: Any) -> str:
    for attr in ("sdd_res", "sensb_res", "sensf_res"):
        value = getattr(target, attr, None)
        if value:
            return bytes(value).hex()
    return ""


def open_problem(path: str, exc: OSError | None) -> tuple[ReaderState, ReaderUnavailableError]:
    """The state and error for a reader that did not open."""
    if exc is not None and exc.errno == errno.EBUSY:
        return ReaderState.BUSY, ReaderUnavailableError(
            f"NFC reader {path} is in use", title="NFC reader busy", hint=BUSY_HINT
        )
    if exc is not None and exc.errno == errno.EACCES:
        return ReaderState.DISCONNECTED, ReaderUnavailableError(
            f"no permission to open NFC reader {path}", title="NFC reader not accessible", hint=UDEV_HINT
        )
    detail = f": {exc.strerror or exc}" if exc is not None else ""
    return ReaderState.DISCONNECTED, ReaderUnavailableError(
        f"no NFC reader found at {path}{detail}", title="NFC reader not found", hint=MISSING_HINT
    )


def default_frontend(path: str) -> Any:
    """An opened nfcpy ContactlessFrontend, or raise OSError (ENODEV when nothing is there)."""
    clf = nfc.ContactlessFrontend()
    if not clf.open(path):
        raise OSError(errno.ENODEV, "nothing answered")
    return clf


class NfcReader(ThreadedReader):
    # a udp poll waits up to 1 s for an answer; a USB poll far less
    join_timeout_s = 2.5
    crash_title = "NFC reader failed"

    def __init__(
        self,
        device: str,
        path: str,
        *,
        debounce: float = 1.5,
        retry: float = 1.0,
        targets: tuple[str, ...] = DEFAULT_TARGETS,
        interval: float = 0.05,
        reconnect: float = 1.0,
        frontend: Callable[[str], Any] = default_frontend,
    ) -> None:
        super().__init__(device)
        self.path = path
        self.debounce = debounce
        self.retry = retry
        self.targets = targets
        self.interval = interval
        self.reconnect = reconnect
        self._frontend = frontend
        self._last_key: set[str] = set()
        self._last_left = -1e9
        self._clf: Any = None
        self._techs: list[str] = list(targets)
        self._active: Any = None  # the tag being read, for the removal wait after an error
        self._last_error: tuple[str, str] | None = None
        self._last_error_at = -1e9

    # -- lifecycle ---------------------------------------------------------------------------

    def _error(self, exc: NfcError) -> None:
        self._emit(
            ReaderError(
                reader=self.device, title=exc.title, message=exc.message, hint=exc.hint, code=exc.code
            )
        )

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self._clf = self._frontend(self.path)
            except OSError as exc:
                state, problem = open_problem(self.path, exc)
                if state != self._state:
                    self._error(problem)
                self._set_state(state, problem.message)
                self._stop.wait(self.reconnect)
                continue
            self._set_state(ReaderState.READY)
            self._techs = list(self.targets)
            try:
                self._poll()
            except OSError as exc:  # unplugged while running: nfcpy raises IOError/usb errors
                problem = ReaderUnavailableError(
                    f"NFC reader {self.path} stopped answering ({exc.strerror or exc})",
                    title="NFC reader disconnected",
                    hint=MISSING_HINT,
                )
                self._error(problem)
                self._set_state(ReaderState.DISCONNECTED, problem.message)
            finally:
                self._release()
            if not self._stop.is_set():
                self._stop.wait(self.reconnect)

    def _release(self) -> None:
        clf, self._clf = self._clf, None
        if clf is not None:
            try:
                clf.close()
            except Exception:  # closing a device that is gone fails in many ways; nothing to do
                log.debug("closing the frontend failed", exc_info=True)

    # -- polling -----------------------------------------------------------------------------

    def _sense(self) -> Any:
        # one technology at a time, so stop() waits for one poll at most (the udp driver's is 1 s)
        for tech in list(self._techs):
            if self._stop.is_set():
                return None
            try:
                target = self._clf.sense(nfc.clf.RemoteTarget(tech), iterations=1, interval=self.interval)
            except nfc.clf.UnsupportedTargetError:
                log.info("%s cannot poll %s; leaving it out", self.path, tech)
                self._techs.remove(tech)
                continue
            if target is None:
                continue
            if not accept_target(target):
                log.debug("skipping peer-to-peer target %s", target)
                continue
            return target
        if not self._techs:
            raise OSError(errno.ENOTSUP, f"the reader supports none of {', '.join(self.targets)}")
        return None

    def _poll(self) -> None:
        while not self._stop.is_set():
            target = self._sense()
            if target is None:
                self._stop.wait(self.interval)
                continue
            started = time.monotonic()
            self._set_state(ReaderState.READING)
            tag: Any = None
            try:
                tag, content = self._read_with_retry(target, started)
            except NfcError as exc:
                key = (exc.code, _target_id(target))
                if key != self._last_error or time.monotonic() - self._last_error_at >= self.debounce:
                    self._error(exc)  # the same failure of the same card again is not news
                self._last_error, self._last_error_at = key, time.monotonic()
                if self._active is not None and not isinstance(exc, TagLostError):
                    # a card we cannot use, still on the reader: one error, not one per poll
                    self._wait_removed(self._active)
            else:
                uid = bytes(tag.identifier).hex().upper() if tag.identifier else None
                keys = {f"uid:{uid}"} if uid else set()
                keys.add(f"payload:{content.payload}")
                repeated = bool(keys & self._last_key) and started - self._last_left < self.debounce
                if not repeated:
                    self._emit(
                        TagRead(
                            reader=self.device,
                            payload=content.payload,
                            uid=uid,
                            tag_type=f"{tag.type}/{content.source}",
                            ndef=content.ndef,
                            elapsed_ms=(time.monotonic() - started) * 1000,
                        )
                    )
                self._last_key = keys
                self._wait_removed(tag)
                self._last_left = time.monotonic()
            self._set_state(ReaderState.READY)

    def _read_with_retry(self, target: Any, started: float) -> tuple[Any, CardContent]:
        """Read the card; if it leaves mid-read, look for it again for ``retry`` seconds."""
        deadline = started + self.retry
        uid = bytes(getattr(target, "sdd_res", b"") or b"")
        self._active = None
        while True:
            tag = self._activate(target)
            self._active = tag
            if tag is not None:
                try:
                    return tag, self._read(tag)
                except TagLostError:
                    if time.monotonic() >= deadline or self._stop.is_set():
                        raise
            elif time.monotonic() >= deadline:
                raise TagLostError("the card did not answer its activation")
            target = None
            while target is None and time.monotonic() < deadline and not self._stop.is_set():
                target = self._sense()
                # another card in the field is a new tap, not a retry
                if target is not None and uid and bytes(getattr(target, "sdd_res", b"") or b"") != uid:
                    raise TagLostError("the card left the field before it was read")
            if target is None:
                raise TagLostError("the card left the field before it was read")

    def _activate(self, target: Any) -> Any:
        """nfcpy's activation, or None when the card did not answer. nfcpy indexes into the card's
        answers unchecked (a short ATS raises IndexError): a malformed answer is an unsupported card."""
        try:
            return nfc.tag.activate(self._clf, target)
        except (IndexError, ValueError, TypeError, KeyError) as exc:
            raise TagUnsupportedError(
                f"the card's activation answer is malformed ({type(exc).__name__})"
            ) from exc

    def _read(self, tag: Any) -> CardContent:
        try:
            if isinstance(tag, nfc.tag.tt4.Type4Tag):
                return read_iso_dep(lambda apdu: bytes(tag.transceive(bytearray(apdu))))
            try:
                ndef_area = tag.ndef
            except (IndexError, ValueError, TypeError, KeyError) as exc:
                # nfcpy's NDEF discovery trusts the tag's attribute/CC data
                raise NdefFormatError(f"the {tag.type} tag's NDEF area is malformed") from exc
            if ndef_area is None:
                if not tag.is_present:
                    raise TagLostError("the card left the field before it was read")
                raise TagUnsupportedError(f"the {tag.type} tag carries no NDEF data")
            raw = bytes(ndef_area.octets)
        except (nfc.tag.TagCommandError, nfc.clf.CommunicationError) as exc:
            raise TagLostError(f"the card stopped answering ({exc})") from exc
        return CardContent(payload=payload_from_ndef(raw), source="ndef", ndef=raw)

    def _wait_removed(self, tag: Any) -> None:
        while not self._stop.is_set():
            try:
                if not tag.is_present:
                    return
            except (nfc.tag.TagCommandError, nfc.clf.CommunicationError):
                return
            self._stop.wait(0.1)

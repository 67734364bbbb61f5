"""Device strings to readers, one registry per family, imported lazily.

A device string is ``family:rest``: ``nfc:usb``, ``nfc:usb:054c:06c1``, ``nfc:udp:localhost:54321``,
``camera:0``, ``camera:file:clip.avi``, ``camera:image:photo.png``, ``sim:nfc``, ``sim:qr?payload=...``.
The family picks a module that is imported only when a reader opens, so ``import drivers``
never imports nfcpy or OpenCV.

Errors::

    DriverError (Exception)
     ├── DeviceStringError     unknown family/scheme or bad options; lists the known ones
     └── MissingExtraError     the reader's library is not installed; names the extra
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from drivers.events import ReaderEvent

EventSink = Callable[[ReaderEvent], None]


class DriverError(Exception):
    """Base of every driver error."""


class DeviceStringError(DriverError, ValueError):
    pass


class MissingExtraError(DriverError):
    def __init__(self, family: str, module: str, extra: str, *, devices: str = "readers") -> None:
        super().__init__(f"{family} {devices} need the {module!r} library: pip install 'cryptopos[{extra}]'")
        self.family = family
        self.module = module
        self.extra = extra


def split_options(
    device: str, rest: str, known: Mapping[str, Callable[[str], object]]
) -> tuple[str, dict[str, object]]:
    """Split ``path?k=v&k2=v2`` and convert each option with its parser from ``known``.
    Unknown or malformed options raise :class:`DeviceStringError` listing the known ones."""
    from urllib.parse import parse_qsl

    path, _, query = rest.partition("?")
    out: dict[str, object] = {}
    if not query:
        return path, out
    names = ", ".join(sorted(known)) or "none"
    for pair in query.split("&"):
        if "=" not in pair:
            raise DeviceStringError(
                f"option {pair!r} in {device!r} needs a value (name=value); known: {names}"
            )
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in known:
            raise DeviceStringError(f"unknown option {key!r} in {device!r}; known options: {names}")
        try:
            out[key] = known[key](value)
        except ValueError as exc:
            raise DeviceStringError(f"bad value {value!r} for option {key!r} in {device!r}: {exc}") from None
    return path, out


def positive_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a number of seconds >= 0")
    return value


@runtime_checkable
class Reader(Protocol):
    """A running source of reader events. ``start`` returns at once; events go to ``sink``
    from the reader's own thread. ``stop`` is prompt and idempotent."""

    device: str

    def start(self, sink: EventSink) -> None: ...

    def stop(self) -> None: ...


# family -> (module that implements it, the `open(device, rest, **options)` factory's name,
#            the schemes it understands, for error messages)
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "nfc": (
        "drivers.nfc",
        ("nfc:usb", "nfc:usb:VID:PID", "nfc:usb:BUS:DEV", "nfc:tty:PORT:DRIVER", "nfc:udp:HOST:PORT"),
    ),
    "camera": ("drivers.camera", ("camera:INDEX", "camera:file:PATH", "camera:image:PATH")),
    "sim": ("drivers.sim", ("sim:nfc", "sim:qr")),
}


def known_schemes() -> list[str]:
    return [s for _, schemes in FAMILIES.values() for s in schemes]


def split_device_string(device: str) -> tuple[str, str]:
    family, sep, rest = device.strip().partition(":")
    if not sep or family not in FAMILIES:
        raise DeviceStringError(
            f"unknown reader {device!r}; known device strings: {', '.join(known_schemes())}"
        )
    return family, rest


def check_device_string(device: str) -> None:
    """Validate a device string without importing any driver library."""
    family, rest = split_device_string(device)
    module = importlib.import_module(FAMILIES[family][0])
    checker: Callable[[str, str], None] | None = getattr(module, "check", None)
    if checker is not None:
        checker(device, rest)


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether a configured device is usable now, for ``cryptopos doctor``."""

    device: str
    ok: bool
    detail: str
    hint: str = ""


def probe_device(device: str) -> Probe:
    """Try the device the way its reader would, briefly, and say what is wrong and how to fix it.
    Never raises for a device problem; a bad device string is a failed probe too."""
    try:
        family, rest = split_device_string(device)
        module = importlib.import_module(FAMILIES[family][0])
        checker: Callable[[str, str], None] | None = getattr(module, "check", None)
        if checker is not None:
            checker(device, rest)
        prober: Callable[[str, str], Probe] = module.probe
        return prober(device, rest)
    except MissingExtraError as exc:
        return Probe(device, False, str(exc), f"pip install 'cryptopos[{exc.extra}]'")
    except DriverError as exc:
        return Probe(device, False, str(exc), "fix the device string in terminal.readers")


# How long a command waits for its readers' probes before it gives up on one: a customer at the
# counter must not wait out a payment window for a reader that is not there.
PREFLIGHT_S = 2.0


def preflight(devices: Sequence[str], *, timeout_s: float = PREFLIGHT_S) -> list[Probe]:
    """Probe every device at once (each in its own thread, as ``doctor`` does) and give up on one
    that has not answered within ``timeout_s``. In the order given; never raises."""
    results: dict[int, Probe] = {}

    def run(index: int, device: str) -> None:
        results[index] = probe_device(device)

    threads = [
        threading.Thread(target=run, args=(i, d), name=f"probe {d}", daemon=True)
        for i, d in enumerate(devices)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [
        results.get(i)
        or Probe(
            d,
            False,
            f"did not answer within {timeout_s:g} s",
            "check that it is plugged in and not used by another program; `cryptopos doctor` checks it",
        )
        for i, d in enumerate(devices)
    ]


def open_reader(device: str, **options: object) -> Reader:
    """Open the reader a device string names. Raises :class:`DeviceStringError` or
    :class:`MissingExtraError` with a message a person can act on."""
    family, rest = split_device_string(device)
    module = importlib.import_module(FAMILIES[family][0])
    factory: Callable[..., Reader] = module.open_reader
    return factory(device, rest, **options)

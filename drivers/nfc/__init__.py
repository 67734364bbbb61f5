"""NFC readers through nfcpy: ``nfc:usb``, ``nfc:usb:054c:06c1``, ``nfc:usb:001:023``,
``nfc:tty:USB0:pn532``, ``nfc:udp:localhost:54321`` (nfcpy's loopback driver, for tests).

Options after ``?``: ``debounce`` (s, the same card within it is one event; default 1.5),
``retry`` (s, how long a card removed mid-read is waited for; default 1.0), ``targets``
(comma list of nfcpy technologies, default ``106A,106B,212F``), ``interval`` (s between polls).

Importing this package imports no nfcpy: :func:`open_reader` does, and names the extra when it is
missing.

Errors::

    DriverError (drivers.registry)
     └── NfcError                   title, message, hint, code
          ├── TagLostError          card removed mid-read            code card_removed
          ├── TagUnsupportedError   no NDEF/wallet app, empty tag    code tag_unsupported
          ├── NdefFormatError       garbage NDEF or CC               code ndef_malformed
          ├── WalletError           the wallet app said no           code wallet_error
          └── ReaderUnavailableError  not found, busy, no permission code reader_unavailable
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.registry import DeviceStringError, MissingExtraError, Probe, positive_float, split_options

if TYPE_CHECKING:
    from drivers.nfc.reader import NfcReader

PATH_SCHEMES = ("usb", "tty", "com", "udp")
TECHNOLOGIES = ("106A", "106B", "212F", "424F")
DEFAULT_TARGETS = ("106A", "106B", "212F")


def _targets(text: str) -> tuple[str, ...]:
    items = tuple(t.strip().upper() for t in text.split(",") if t.strip())
    bad = [t for t in items if t not in TECHNOLOGIES]
    if bad or not items:
        raise ValueError(f"unknown technology {', '.join(bad) or '(none)'}; known: {', '.join(TECHNOLOGIES)}")
    return items


OPTIONS = {
    "debounce": positive_float,
    "retry": positive_float,
    "targets": _targets,
    "interval": positive_float,
}


def parse(device: str, rest: str) -> tuple[str, dict[str, object]]:
    path, options = split_options(device, rest, OPTIONS)
    scheme = path.split(":", 1)[0]
    if scheme not in PATH_SCHEMES:
        raise DeviceStringError(
            f"unknown NFC reader path {path!r} in {device!r}; known: nfc:usb, nfc:usb:VID:PID, "
            "nfc:usb:BUS:DEV, nfc:tty:PORT:DRIVER (e.g. nfc:tty:USB0:pn532), nfc:udp:HOST:PORT"
        )
    if scheme == "udp":
        parts = path.split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise DeviceStringError(f"{device!r}: the udp driver needs nfc:udp:HOST:PORT")
    if scheme in ("tty", "com") and len(path.split(":")) != 3:
        raise DeviceStringError(
            f"{device!r}: serial readers need nfc:tty:PORT:DRIVER, e.g. nfc:tty:USB0:pn532"
        )
    return path, options


def check(device: str, rest: str) -> None:
    parse(device, rest)


def open_reader(device: str, rest: str, **options: object) -> NfcReader:
    path, parsed = parse(device, rest)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise DeviceStringError(
            f"unknown option {', '.join(unknown)} for {device!r}; known: {', '.join(OPTIONS)}"
        )
    _require_nfcpy()
    from drivers.nfc.reader import NfcReader

    merged = {**parsed, **options}
    return NfcReader(device, path, **merged)  # type: ignore[arg-type]


def _require_nfcpy() -> None:
    try:
        import nfc  # noqa: F401
    except ImportError:
        raise MissingExtraError("NFC", "nfcpy", "nfc") from None


def list_usb_readers() -> list[str]:
    """Supported NFC readers on USB, as ``usb:VID:PID (driver) at BUS:DEV``; [] without libusb."""
    _require_nfcpy()
    import nfc.clf.device
    import nfc.clf.transport

    try:
        found = nfc.clf.transport.USB.find("usb") or []
    except Exception:  # no libusb on this machine: no USB readers either
        return []
    out = []
    for vid, pid, bus, dev in found:
        driver = nfc.clf.device.usb_device_map.get((vid, pid))
        if driver:
            out.append(f"usb:{vid:04x}:{pid:04x} ({driver}) at {bus:03d}:{dev:03d}")
    return out


def probe(device: str, rest: str) -> Probe:
    """Open the reader once, as the reader thread would, and close it again."""
    path, _ = parse(device, rest)
    _require_nfcpy()
    if path.startswith("udp"):
        return Probe(device, True, "nfcpy udp driver (loopback emulation, no hardware)")
    from drivers.nfc.reader import default_frontend, open_problem

    try:
        clf = default_frontend(path)
    except OSError as exc:
        _, problem = open_problem(path, exc)
        return Probe(device, False, problem.message, problem.hint)
    try:
        return Probe(device, True, f"opened {clf.device}")
    finally:
        clf.close()

"""Receipt printers (ESC/POS, through python-escpos), chosen by a device string like the readers.

    printer:net:HOST[:PORT]     a network printer's raw port (9100 unless given; ``[v6addr]:PORT``)
    printer:usb:VID:PID         a USB printer by its ids in hex (``printer:usb:04b8:0202``)
    printer:serial:PORT         a serial port (``printer:serial:/dev/ttyUSB0?baudrate=19200``)
    printer:file:PATH           a device file (``/dev/usb/lp0``) or any file to keep the bytes in
    printer:none                no printer: printing says so and what to set

Options after ``?``: ``timeout`` (seconds, every kind that talks to a device), ``status``
(``on``/``off``: ask the printer for paper and cover before printing; net, usb, serial),
``baudrate`` (serial), ``in_ep``/``out_ep`` (usb endpoints, hex).

Layers: :mod:`~drivers.printer.ops` (what to print, pure) → :mod:`~drivers.printer.encode`
(ESC/POS bytes for a printer profile, python-escpos's encoder without I/O) →
:mod:`~drivers.printer.connection` (python-escpos's connections send the bytes; real-time status
is read first). :mod:`~drivers.printer.decode` reads a byte stream back (tests, previews).
Importing this package imports no printer library: python-escpos loads when a receipt is
encoded or printed.

Errors::

    DriverError
     ├── DeviceStringError             unknown scheme or option; lists the known ones
     ├── UnknownProfileError           a printer profile python-escpos does not know
     ├── MissingExtraError             python-escpos (or pyusb, pyserial) is not installed
     └── PrinterError                  title, message and hint: what the cashier sees
          ├── NoPrinterError             printer:none
          ├── PrinterUnavailableError    cannot reach or open the printer (off, unplugged, refused)
          ├── PrinterNotReadyError       the printer reports it cannot print (paper out, cover open)
          └── PrinterWriteError          the link broke while sending: the receipt may be partial
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from drivers.printer.ops import Cut, Feed, Line, Op, QrCode
from drivers.printer.status import PrinterStatus
from drivers.registry import DeviceStringError, DriverError, MissingExtraError, Probe, split_options

Kind = Literal["net", "usb", "serial", "file", "none"]
QrMode = Literal["auto", "native", "raster"]

KNOWN = (
    "printer:net:HOST[:PORT]",
    "printer:usb:VID:PID",
    "printer:serial:PORT",
    "printer:file:PATH",
    "printer:none",
)
DEFAULT_NET_PORT = 9100
DEFAULT_TIMEOUT_S = 5.0


class UnknownProfileError(DriverError, ValueError):
    pass


class PrinterError(DriverError):
    """A printer problem a cashier can act on: ``title``, ``message`` and a next step."""

    def __init__(self, title: str, message: str, hint: str, *, device: str = "") -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message
        self.hint = hint
        self.device = device


class NoPrinterError(PrinterError):
    pass


class PrinterUnavailableError(PrinterError):
    pass


class PrinterNotReadyError(PrinterError):
    def __init__(self, title: str, message: str, hint: str, *, device: str, status: PrinterStatus) -> None:
        super().__init__(title, message, hint, device=device)
        self.status = status


class PrinterWriteError(PrinterError):
    pass


# -- device strings ------------------------------------------------------------------------


def _on_off(text: str) -> bool:
    if text.lower() in ("on", "1", "yes", "true"):
        return True
    if text.lower() in ("off", "0", "no", "false"):
        return False
    raise ValueError("expected on or off")


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 120:
        raise ValueError("expected seconds, more than 0 and at most 120")
    return value


def _hex_byte(text: str) -> int:
    value = int(text, 16)
    if not 0 <= value <= 0xFF:
        raise ValueError("expected an endpoint address in hex, 00-ff")
    return value


def _baudrate(text: str) -> int:
    value = int(text)
    if value not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
        raise ValueError("expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200")
    return value


_OPTIONS: dict[str, dict[str, Callable[[str], object]]] = {
    "net": {"timeout": _seconds, "status": _on_off},
    "usb": {"timeout": _seconds, "status": _on_off, "in_ep": _hex_byte, "out_ep": _hex_byte},
    "serial": {"timeout": _seconds, "status": _on_off, "baudrate": _baudrate},
    "file": {},
    "none": {},
}


@dataclass(frozen=True, slots=True)
class PrinterSpec:
    """A parsed device string: which connection, where, and its options."""

    device: str
    kind: Kind
    target: str = ""  # host, serial port or file path
    port: int = 0  # net
    vendor: int = 0  # usb
    product: int = 0
    options: dict[str, object] = field(default_factory=dict)

    @property
    def timeout_s(self) -> float:
        value = self.options.get("timeout", DEFAULT_TIMEOUT_S)
        assert isinstance(value, float)
        return value

    @property
    def asks_status(self) -> bool:
        """Whether to read the printer's real-time status first (a file cannot answer)."""
        return self.kind in ("net", "usb", "serial") and self.options.get("status", True) is True

    @property
    def where(self) -> str:
        if self.kind == "net":
            host = f"[{self.target}]" if ":" in self.target else self.target
            return f"{host}:{self.port}"
        if self.kind == "usb":
            return f"USB {self.vendor:04x}:{self.product:04x}"
        return self.target or "nowhere"


def _bad(device: str, why: str) -> DeviceStringError:
    return DeviceStringError(f"bad printer {device!r}: {why}; known printers: {', '.join(KNOWN)}")


def parse_printer_string(device: str) -> PrinterSpec:
    """Parse ``printer:...`` without importing any printer library; a clear error otherwise."""
    text = device.strip()
    family, sep, rest = text.partition(":")
    if family != "printer" or not sep:
        raise DeviceStringError(f"unknown printer {device!r}; known printers: {', '.join(KNOWN)}")
    scheme, _, address = rest.partition(":")
    if "?" in scheme:  # printer:none?x=1: options straight after the kind
        scheme, _, query = scheme.partition("?")
        address = f"?{query}"
    if scheme not in _OPTIONS:
        raise DeviceStringError(
            f"unknown printer kind {scheme!r} in {device!r}; known printers: {', '.join(KNOWN)}"
        )
    address, options = split_options(text, address, _OPTIONS[scheme])
    if scheme == "none":
        if address:
            raise _bad(device, "printer:none takes nothing after it")
        return PrinterSpec(text, "none")
    if scheme == "net":
        host, port = _host_port(device, address)
        return PrinterSpec(text, "net", target=host, port=port, options=options)
    if scheme == "usb":
        parts = address.split(":")
        usage = "a USB printer is printer:usb:VID:PID, 4 hex digits each (04b8:0202)"
        if len(parts) != 2 or not all(len(p) == 4 for p in parts):
            raise _bad(device, usage)
        try:
            vendor, product = (int(p, 16) for p in parts)
        except ValueError:
            raise _bad(device, usage) from None
        return PrinterSpec(text, "usb", vendor=vendor, product=product, options=options)
    if not address:
        what = "a serial port (/dev/ttyUSB0, COM3)" if scheme == "serial" else "a file path"
        raise _bad(device, f"printer:{scheme}: needs {what}")
    return PrinterSpec(text, "serial" if scheme == "serial" else "file", target=address, options=options)


def _host_port(device: str, address: str) -> tuple[str, int]:
    if not address:
        raise _bad(device, "printer:net: needs a host (printer:net:192.168.1.50 or printer:net:HOST:9100)")
    port_text = ""
    if address.startswith("["):
        host, sep, tail = address[1:].partition("]")
        if not sep or (tail and not tail.startswith(":")):
            raise _bad(device, "an IPv6 address goes in brackets: printer:net:[fe80::1]:9100")
        port_text = tail[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad(device, f"{host!r} is not an IPv6 address") from None
    elif address.count(":") > 1:
        raise _bad(device, "an IPv6 address goes in brackets: printer:net:[fe80::1]:9100")
    else:
        host, _, port_text = address.partition(":")
        if not host or any(c.isspace() or c in "/@" for c in host):
            raise _bad(device, f"{host!r} is not a host name or address")
    if not port_text:
        return host, DEFAULT_NET_PORT
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise _bad(device, f"port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def check_printer_string(device: str) -> None:
    parse_printer_string(device)


# -- printers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrintResult:
    device: str
    bytes_sent: int
    warnings: tuple[str, ...] = ()  # e.g. "paper low": printed, but say so


@runtime_checkable
class Printer(Protocol):
    """Prints a laid-out receipt. ``columns``: characters per line at normal size.
    ``print`` blocks until the bytes are sent (run it off the UI's event loop)."""

    device: str

    @property
    def columns(self) -> int: ...

    def print(self, ops: Sequence[Op]) -> PrintResult: ...


class NoPrinter:
    """``printer:none``: a till without a receipt printer."""

    def __init__(self, device: str = "printer:none", *, columns: int = 0) -> None:
        self.device = device
        self._columns = columns or 42

    @property
    def columns(self) -> int:
        return self._columns

    def print(self, ops: Sequence[Op]) -> PrintResult:
        raise NoPrinterError(
            "No receipt printer",
            "this till has no printer configured (printer:none)",
            "set [printer] device, e.g. printer:net:192.168.1.50 or printer:usb:04b8:0202",
            device=self.device,
        )


def probe_printer(device: str, *, profile: str = "default") -> Probe:
    """Whether the printer can print now, for ``cryptopos doctor``: reached, and its status.
    Never raises for a printer problem. A file printer is checked without opening (that would
    empty the file)."""
    import os

    try:
        spec = parse_printer_string(device)
        if spec.kind == "none":
            return Probe(device, True, "no receipt printer", "set [printer] device to print receipts")
        from drivers.printer.connection import EscposPrinter

        printer = EscposPrinter(spec, profile=profile)
        if spec.kind == "file":
            path = spec.target
            folder = os.path.dirname(os.path.abspath(path))
            if os.access(path, os.W_OK) or (not os.path.exists(path) and os.access(folder, os.W_OK)):
                return Probe(device, True, f"prints into {path}")
            return Probe(device, False, f"{path} cannot be written to", "check the path and its permissions")
        status = printer.status()
    except MissingExtraError as exc:
        return Probe(device, False, str(exc), f"pip install 'cryptopos[{exc.extra}]'")
    except PrinterError as exc:
        return Probe(device, False, exc.message, exc.hint)
    except DriverError as exc:
        return Probe(device, False, str(exc), "fix [printer] in the configuration")
    if not status.reported:
        return Probe(device, True, f"reachable at {spec.where} (it does not report paper and cover)")
    if status.problems:
        return Probe(device, False, f"the printer reports: {', '.join(status.problems)}", status.hint)
    return Probe(device, True, "ready" + (f" ({', '.join(status.warnings)})" if status.warnings else ""))


def open_printer(device: str, *, profile: str = "default", qr: QrMode = "auto", columns: int = 0) -> Printer:
    """The printer a device string names. Connects only when printing. Raises
    :class:`DeviceStringError`, :class:`UnknownProfileError` or :class:`MissingExtraError`."""
    spec = parse_printer_string(device)
    if spec.kind == "none":
        return NoPrinter(spec.device, columns=columns)
    from drivers.printer.connection import EscposPrinter

    return EscposPrinter(spec, profile=profile, qr=qr, columns=columns)


__all__ = [
    "KNOWN",
    "Cut",
    "DeviceStringError",
    "Feed",
    "Line",
    "MissingExtraError",
    "NoPrinter",
    "NoPrinterError",
    "Op",
    "PrintResult",
    "Printer",
    "PrinterError",
    "PrinterNotReadyError",
    "PrinterSpec",
    "PrinterStatus",
    "PrinterUnavailableError",
    "PrinterWriteError",
    "QrCode",
    "QrMode",
    "UnknownProfileError",
    "check_printer_string",
    "open_printer",
    "parse_printer_string",
    "probe_printer",
]

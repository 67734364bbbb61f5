"""A printer behind a python-escpos connection: ask its real-time status, then send the bytes.

python-escpos's connection classes (``Network``, ``Usb``, ``Serial``, ``File``) each implement
``_raw(bytes)`` and, where the link is two-way, ``_read()``; we use those two and nothing else,
so what is printed is exactly what :func:`drivers.printer.encode.encode` made. Their errors
(sockets, pyusb, pyserial) are translated here into :class:`~drivers.printer.PrinterError`
with a next step for the cashier.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence
from typing import Any

from drivers.printer import (
    MissingExtraError,
    PrinterNotReadyError,
    PrinterSpec,
    PrinterUnavailableError,
    PrinterWriteError,
    PrintResult,
    QrMode,
)
from drivers.printer.encode import encode, load_escpos, profile_info
from drivers.printer.ops import Op
from drivers.printer.status import DLE_EOT, QUERIES, PrinterStatus, decode_status, is_status_byte

# A printer that answers real-time status does so within milliseconds; one that does not
# support it never answers, and the receipt must not wait long for that.
STATUS_TIMEOUT_S = 1.0

_HINTS = {
    "net": "check that the printer is on and on the network at {where} (its self-test print shows its "
    "address), then print again",
    "usb": "plug the printer in and switch it on (`lsusb` should list {where}); then print again",
    "serial": "check the printer's cable and power and that {where} is the right port (and readable "
    "by this user), then print again",
    "file": "check that {where} exists and can be written to, then print again",
}


class EscposPrinter:
    """A printer of one device string and profile. Connects for each print and lets go after."""

    def __init__(self, spec: PrinterSpec, *, profile: str = "default", qr: QrMode = "auto", columns: int = 0):
        self.spec = spec
        self.device = spec.device
        self.profile = profile
        self.qr = qr
        self._columns = columns
        profile_info(profile)  # an unknown profile is an error when the printer is opened

    @property
    def columns(self) -> int:
        return profile_info(self.profile, columns=self._columns).columns

    # -- what the terminal calls ------------------------------------------------------

    def print(self, ops: Sequence[Op]) -> PrintResult:
        """Print ``ops``: status first (where the link answers), then every byte, or an error."""
        data = encode(ops, profile=self.profile, qr=self.qr, columns=self._columns)
        conn = self._open()
        try:
            status = self._status(conn) if self.spec.asks_status else PrinterStatus(reported=False)
            if not status.ready:
                problem = status.problems[0]
                raise PrinterNotReadyError(
                    f"Printer {problem}",
                    f"the printer at {self.spec.where} reports: {', '.join(status.problems)}; nothing was"
                    " printed",
                    status.hint,
                    device=self.device,
                    status=status,
                )
            self._send(conn, data)
        finally:
            self._close(conn)
        return PrintResult(self.device, len(data), status.warnings)

    def status(self) -> PrinterStatus:
        """The printer's real-time status (``reported=False`` when it gives none)."""
        conn = self._open()
        try:
            return self._status(conn) if self.spec.asks_status else PrinterStatus(reported=False)
        finally:
            self._close(conn)

    # -- the connection -----------------------------------------------------------------

    def _unavailable(self, detail: str) -> PrinterUnavailableError:
        spec = self.spec
        return PrinterUnavailableError(
            "Printer not reachable",
            f"cannot reach the printer {spec.where}: {detail}; nothing was printed",
            _HINTS[spec.kind].format(where=spec.where),
            device=self.device,
        )

    def _open(self) -> Any:
        load_escpos()
        import escpos.printer as ep
        from escpos.exceptions import DeviceNotFoundError

        spec = self.spec
        opts = spec.options
        conn: Any
        if spec.kind == "net":
            conn = ep.Network(spec.target, spec.port, timeout=spec.timeout_s, profile=self.profile)
            # connected here rather than by Network.open, which leaves its socket unclosed when the
            # connection fails and words the error for a log, not for a cashier
            try:
                conn.device = socket.create_connection((spec.target, spec.port), timeout=spec.timeout_s)
            except OSError as exc:
                conn.device = False
                raise self._unavailable(exc.strerror or str(exc) or type(exc).__name__) from None
            return conn
        if spec.kind == "usb":
            if not ep.Usb.is_usable():
                raise MissingExtraError("USB receipt", "pyusb", "printer", devices="printers")
            conn = ep.Usb(
                spec.vendor,
                spec.product,
                timeout=int(spec.timeout_s * 1000),
                in_ep=opts.get("in_ep", 0x82),
                out_ep=opts.get("out_ep", 0x01),
                profile=self.profile,
            )
        elif spec.kind == "serial":
            if not ep.Serial.is_usable():
                raise MissingExtraError("serial receipt", "pyserial", "printer", devices="printers")
            conn = ep.Serial(
                devfile=spec.target,
                baudrate=opts.get("baudrate", 9600),
                timeout=spec.timeout_s,
                profile=self.profile,
            )
        else:
            conn = ep.File(devfile=spec.target, profile=self.profile)
        try:
            conn.open()
        except DeviceNotFoundError as exc:
            raise self._unavailable(_last_line(getattr(exc, "msg", "") or str(exc))) from None
        except Exception as exc:  # pyusb without libusb, a permission problem on a port
            conn.device = False  # nothing to close
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
        return conn

    def _close(self, conn: Any) -> None:
        # the receipt is sent, or failed, already: a failing close cannot change that
        with contextlib.suppress(Exception):
            conn.close()

    def _send(self, conn: Any, data: bytes) -> None:
        try:
            conn._raw(data)
        except Exception as exc:
            raise PrinterWriteError(
                "Printing interrupted",
                f"the link to {self.spec.where} broke while printing ({type(exc).__name__}: {exc}); "
                "the receipt may be incomplete",
                "check the printer and its cable or network, then reprint",
                device=self.device,
            ) from None

    def _status(self, conn: Any) -> PrinterStatus:
        """Ask ``DLE EOT 1, 2, 4`` in turn; a printer that does not answer the first is not asked on."""
        replies: dict[int, int] = {}
        sock = conn.device if isinstance(conn.device, socket.socket) else None
        if sock is not None:
            sock.settimeout(min(STATUS_TIMEOUT_S, self.spec.timeout_s))
        try:
            for n in QUERIES:
                try:
                    conn._raw(DLE_EOT + bytes([n]))
                    reply = self._read(conn)
                except PrinterUnavailableError:
                    raise
                except Exception as exc:  # sockets, pyserial, pyusb (its USBTimeoutError is no TimeoutError)
                    if _timed_out(exc):
                        break  # no answer: this printer does not report status
                    raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
                byte = next((b for b in reply if is_status_byte(b)), None)
                if byte is None:
                    break
                replies[n] = byte
        finally:
            if sock is not None:
                sock.settimeout(self.spec.timeout_s)
        return decode_status(replies)

    def _read(self, conn: Any) -> bytes:
        """One reply; a serial port returns b'' at its timeout, a socket may return it in pieces."""
        deadline = time.monotonic() + min(STATUS_TIMEOUT_S, self.spec.timeout_s)
        while True:
            data = bytes(conn._read())
            if data:
                return data
            if self.spec.kind == "net":
                raise PrinterUnavailableError(
                    "Printer closed the connection",
                    f"the printer at {self.spec.where} hung up while asked for its status",
                    _HINTS["net"].format(where=self.spec.where),
                    device=self.device,
                )
            if time.monotonic() >= deadline:
                raise TimeoutError("no status reply")


def _last_line(text: str) -> str:
    """python-escpos words an open error as 'Could not open ... :\n<the OS error>': the OS error."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "not found"


def _timed_out(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, TimeoutError) or "timeout" in text or "timed out" in text

"""Operations to ESC/POS bytes for one printer profile, with python-escpos's encoder and no I/O.

python-escpos's ``Dummy`` printer collects what its commands would send; the same bytes then go
to any connection. Encoding before connecting means a printer that is off never leaves half a
receipt behind for lack of a layout step, and tests can read the bytes without a device.

Profiles are python-escpos's printer database (``TM-T88V``, ``TM-T20II``, ``POS-5890``...):
columns per line, paper width in dots, and whether the printer draws QR codes itself
(``GS ( k``). ``qr = "auto"`` uses the native command where the profile has it and a raster
image (``GS v 0``) elsewhere; ``native`` / ``raster`` force one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from drivers.printer import UnknownProfileError
from drivers.printer.ops import Cut, Feed, Line, Op, QrCode, printable
from drivers.registry import MissingExtraError

# Font A is 12 dots wide on ESC/POS printers: the paper width of a profile that does not say it.
DOTS_PER_COLUMN = 12
QUIET_MODULES = 1  # python-escpos draws a one-module border; the paper around it does the rest

_import_lock = threading.Lock()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "cryptopos" / "escpos"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"cryptopos-escpos-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


def load_escpos() -> Any:
    """Import python-escpos, undoing its import-time side effects.

    Its capabilities module calls ``logging.basicConfig()`` (a stderr handler on the root logger:
    on a TUI that would write over the screen) and caches its printer database in a new temporary
    folder per process unless told where: we point it at one cache folder and remove the handler.
    A cache file cut short by a process that died while writing it is removed and rebuilt.
    """
    if "escpos.printer" in sys.modules:
        return sys.modules["escpos"]
    with _import_lock:
        root = logging.getLogger()
        before = list(root.handlers)
        cache = os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR")
        if cache is None:
            cache = str(_cache_dir())
            os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = cache
        try:
            for attempt in (1, 2):
                try:
                    import escpos.printer  # noqa: F401 - imported for its side effects, undone below

                    break
                except ImportError as exc:
                    missing = exc.name or ""
                    if missing.startswith("escpos") or missing in ("PIL", "qrcode", "barcode", "yaml"):
                        raise MissingExtraError(
                            "receipt", "python-escpos", "printer", devices="printers"
                        ) from None
                    raise
                except (EOFError, ValueError, OSError) as exc:  # a truncated or foreign cache file
                    if attempt == 2:
                        raise MissingExtraError(
                            "receipt",
                            f"python-escpos (its printer database failed: {exc})",
                            "printer",
                            devices="printers",
                        ) from None
                    for stale in Path(cache).glob("*.capabilities.pickle"):
                        with contextlib.suppress(OSError):
                            stale.unlink()
        finally:
            for handler in root.handlers[:]:
                if handler not in before:
                    root.removeHandler(handler)
        return sys.modules["escpos"]


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    name: str
    columns: int  # font A characters per line
    width_dots: int  # printable width
    native_qr: bool  # GS ( k
    can_cut: bool


def known_profiles() -> list[str]:
    load_escpos()
    from escpos.capabilities import CAPABILITIES

    return sorted(CAPABILITIES["profiles"])


def _profile(name: str) -> Any:
    load_escpos()
    from escpos.capabilities import CAPABILITIES, get_profile

    if name not in CAPABILITIES["profiles"]:
        raise UnknownProfileError(
            f"unknown printer profile {name!r}; python-escpos knows: {', '.join(known_profiles())}"
        )
    return get_profile(name)


def profile_info(name: str, *, columns: int = 0) -> ProfileInfo:
    """What a profile says about the paper and the commands; ``columns`` overrides its columns."""
    profile = _profile(name)
    cols = columns or int(profile.get_columns(0))
    width = profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    dots = int(width) if isinstance(width, int) or (isinstance(width, str) and width.isdigit()) else 0
    return ProfileInfo(
        name=name,
        columns=cols,
        width_dots=dots or cols * DOTS_PER_COLUMN,
        native_qr=bool(profile.supports("qrCode")),
        can_cut=bool(profile.supports("paperFullCut") or profile.supports("paperPartCut")),
    )


def qr_modules(payload: str) -> int:
    """Modules per side of the QR python-escpos and the printer draw (error correction M)."""
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(payload)
    code.make(fit=True)
    return int(code.modules_count)


def fitted_module(payload: str, wanted: int, width_dots: int) -> int:
    """The largest module size up to ``wanted`` whose code fits the paper (at least 1)."""
    side = qr_modules(payload) + 2 * QUIET_MODULES
    return max(1, min(wanted, width_dots // side, 16))


def encode(
    ops: Sequence[Op],
    *,
    profile: str = "default",
    qr: Literal["auto", "native", "raster"] = "auto",
    columns: int = 0,
) -> bytes:
    """The ESC/POS bytes that print ``ops`` on a printer of ``profile``."""
    load_escpos()
    from escpos.constants import QR_ECLEVEL_M
    from escpos.printer import Dummy

    info = profile_info(profile, columns=columns)
    native = info.native_qr if qr == "auto" else qr == "native"
    printer = Dummy(profile=profile)
    # python-escpos centres raster images on the profile's paper width, and prints a complaint to
    # stdout when the profile does not know it: give it the width we work with
    data = dict(printer.profile.profile_data)
    data["media"] = {**data.get("media", {}), "width": {"mm": "Unknown", "pixels": info.width_dots}}
    printer.profile.profile_data = data
    printer.hw("INIT")
    for op in ops:
        if isinstance(op, Line):
            printer.set(
                align=op.align,
                bold=op.bold,
                normal_textsize=not op.double,
                double_width=op.double,
                double_height=op.double,
            )
            printer.textln(printable(op.text))
        elif isinstance(op, Feed):
            printer.ln(op.lines)
        elif isinstance(op, QrCode):
            module = fitted_module(op.payload, op.module, info.width_dots)
            if native:
                printer.set(align="center", normal_textsize=True, bold=False)
                printer.qr(op.payload, ec=QR_ECLEVEL_M, size=module, native=True)
                printer.ln()
            else:
                printer.set(align="left", normal_textsize=True, bold=False)
                printer.qr(op.payload, ec=QR_ECLEVEL_M, size=module, native=False, center=True)
        elif isinstance(op, Cut):
            printer.cut(mode="PART" if op.partial else "FULL")
    output: bytes = printer.output
    return output


def code_pages(profile: str = "default") -> dict[int, str]:
    """``ESC t`` number -> the characters of bytes 0x80-0xFF in that code page, for the profile
    (python-escpos's database): what :func:`drivers.printer.decode.decode` needs to read text."""
    load_escpos()
    from escpos.codepages import CodePages

    out: dict[int, str] = {}
    for number, name in _profile(profile).codePages.items():
        try:
            entry = CodePages.get_encoding(name)
        except KeyError:
            continue
        if "data" in entry:
            out[int(number)] = "".join(entry["data"])
        elif "python_encode" in entry:
            chars = []
            for byte in range(0x80, 0x100):
                try:
                    chars.append(bytes([byte]).decode(entry["python_encode"]))
                except UnicodeDecodeError:
                    chars.append("\ufffd")
            out[int(number)] = "".join(chars)
    return out

"""Read an ESC/POS byte stream back: text lines with their style, QR codes (``GS ( k``), raster
images (``GS v 0``), cuts and status queries. Pure; for tests, previews and the README picture.

It knows the commands our encoder (python-escpos) emits and refuses anything else with a
:class:`StreamError` naming the byte offset, so an unexpected command shows up in a test
instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ESC, GS, DLE, LF = 0x1B, 0x1D, 0x10, 0x0A


class StreamError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    bold: bool = False
    align: str = "left"
    double: bool = False


@dataclass(frozen=True, slots=True)
class QrSymbol:
    payload: str
    module: int
    ec: str  # L M Q H
    align: str = "center"


@dataclass(frozen=True, slots=True)
class Raster:
    """A ``GS v 0`` image: ``width_bytes`` * 8 dots wide, one bit per dot, 1 = black."""

    width_bytes: int
    height: int
    data: bytes

    @property
    def width(self) -> int:
        return self.width_bytes * 8

    def black(self, x: int, y: int) -> bool:
        byte = self.data[y * self.width_bytes + x // 8]
        return bool(byte & (0x80 >> (x % 8)))

    def rows(self) -> list[list[bool]]:
        return [[self.black(x, y) for x in range(self.width)] for y in range(self.height)]


@dataclass(frozen=True, slots=True)
class PaperCut:
    partial: bool


@dataclass(frozen=True, slots=True)
class StatusQuery:
    n: int


Item = TextLine | QrSymbol | Raster | PaperCut | StatusQuery


@dataclass
class Printout:
    items: list[Item] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [i.text for i in self.items if isinstance(i, TextLine)]

    @property
    def qr_codes(self) -> list[str]:
        return [i.payload for i in self.items if isinstance(i, QrSymbol)]

    @property
    def rasters(self) -> list[Raster]:
        return [i for i in self.items if isinstance(i, Raster)]

    @property
    def cuts(self) -> list[PaperCut]:
        return [i for i in self.items if isinstance(i, PaperCut)]


ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
EC = {48: "L", 49: "M", 50: "Q", 51: "H"}


def decode(data: bytes, *, code_pages: Mapping[int, str] | None = None) -> Printout:
    """``code_pages``: ``ESC t`` number -> the 128 characters of bytes 0x80-0xFF in that page
    (:func:`drivers.printer.encode.code_pages`); without it, high bytes read as Latin-1."""
    out = Printout()
    state: dict[str, object] = {"bold": False, "align": "left", "double": False, "page": 0}
    text: list[str] = []
    qr = {"module": 3, "ec": "L", "data": b""}
    i = 0
    n = len(data)

    def need(count: int) -> bytes:
        if i + count > n:
            raise StreamError(f"command at byte {i} is cut short")
        return data[i : i + count]

    def flush() -> None:
        out.items.append(
            TextLine("".join(text), bool(state["bold"]), str(state["align"]), bool(state["double"]))
        )
        text.clear()

    def char(b: int) -> str:
        if b < 0x80:
            return chr(b)
        number = state["page"]
        assert isinstance(number, int)
        page = (code_pages or {}).get(number)
        return page[b - 0x80] if page is not None else bytes([b]).decode("latin-1")

    while i < n:
        b = data[i]
        if b == LF:
            flush()
            i += 1
        elif b == ESC:
            cmd = need(2)[1]
            if cmd == ord("@"):
                state.update(bold=False, align="left", double=False, page=0)
                i += 2
            elif cmd == ord("!"):
                mode = need(3)[2]
                state.update(double=bool(mode & 0x30), bold=bool(mode & 0x08))
                i += 3
            elif cmd == ord("E"):
                state["bold"] = bool(need(3)[2] & 1)
                i += 3
            elif cmd == ord("a"):
                state["align"] = ALIGN.get(need(3)[2], "left")
                i += 3
            elif cmd == ord("t"):
                state["page"] = need(3)[2]
                i += 3
            elif cmd == ord("d"):
                if text:
                    flush()
                for _ in range(need(3)[2]):
                    flush()
                i += 3
            elif cmd in (ord("-"), ord("M"), ord("G"), ord("{"), ord("J")):
                i += 3  # underline, font, double strike, upside down, feed n dots: not kept
            else:
                raise StreamError(f"unknown command ESC {cmd:#04x} at byte {i}")
        elif b == GS:
            cmd = need(2)[1]
            if cmd == ord("!"):
                state["double"] = bool(need(3)[2])
                i += 3
            elif cmd in (ord("B"), ord("b")):
                i += 3  # inverted, smoothing: not kept
            elif cmd == ord("V"):
                m = need(3)[2]
                if m in (65, 66, 97, 98, 103, 104):
                    out.items.append(PaperCut(partial=m in (66, 98, 104)))
                    i += 4
                elif m in (0, 1, 48, 49):
                    out.items.append(PaperCut(partial=m in (1, 49)))
                    i += 3
                else:
                    raise StreamError(f"unknown cut GS V {m} at byte {i}")
            elif cmd == ord("("):
                head = need(5)
                kind, size = head[2], head[3] | head[4] << 8
                body = need(5 + size)[5:]
                i += 5 + size
                if kind == ord("k"):
                    _qr_function(body, qr, out, str(state["align"]))
                elif kind != ord("L"):  # GS ( L: graphics, not emitted by our encoder
                    raise StreamError(f"unknown command GS ( {chr(kind)} at byte {i}")
            elif cmd == ord("v"):
                head = need(8)
                if head[2] != ord("0"):
                    raise StreamError(f"unknown command GS v {head[2]:#04x} at byte {i}")
                width_bytes = head[4] | head[5] << 8
                height = head[6] | head[7] << 8
                body = need(8 + width_bytes * height)[8:]
                out.items.append(Raster(width_bytes, height, bytes(body)))
                i += 8 + width_bytes * height
            else:
                raise StreamError(f"unknown command GS {cmd:#04x} at byte {i}")
        elif b == DLE:
            head = need(3)
            if head[1] != 0x04:
                raise StreamError(f"unknown command DLE {head[1]:#04x} at byte {i}")
            out.items.append(StatusQuery(head[2]))
            i += 3
        elif b < 0x20 and b not in (0x09,):
            raise StreamError(f"unexpected control byte {b:#04x} at byte {i}")
        else:
            text.append(char(b))
            i += 1
    if text:
        flush()
    return out


def _qr_function(body: bytes, qr: dict[str, object], out: Printout, align: str) -> None:
    """``GS ( k`` for QR (cn = '1'): model, module size, error correction, store, print."""
    if len(body) < 2 or body[0] != ord("1"):
        raise StreamError(f"GS ( k for a symbol other than QR: {body[:2]!r}")
    fn = body[1]
    if fn == 65:  # model
        return
    if fn == 67:
        qr["module"] = body[2]
    elif fn == 69:
        qr["ec"] = EC.get(body[2], "?")
    elif fn == 80:  # store: m = '0', then the data
        qr["data"] = bytes(body[3:])
    elif fn == 81:  # print what was stored
        payload = qr["data"]
        assert isinstance(payload, bytes)
        module = qr["module"]
        assert isinstance(module, int)
        out.items.append(QrSymbol(payload.decode("utf-8"), module, str(qr["ec"]), align))
    else:
        raise StreamError(f"unknown QR function {fn}")

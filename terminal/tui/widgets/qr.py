"""A QR code drawn with half-block characters: two modules per character cell.

``qrcode`` builds the matrix (error correction M, a quiet zone of two modules); each
cell shows the upper module as the foreground of ``▀`` and the lower one as its
background, so a module is one column wide and half a row high: an 81-character BIP21
URI (41 modules with its quiet zone) takes 41×21 cells and fits an 80×24 screen.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

QUIET_ZONE = 2
_DARK, _LIGHT = "#000000", "#ffffff"


Correction = Literal["L", "M"]


@lru_cache(maxsize=16)
def qr_matrix(data: str, correction: Correction = "M") -> tuple[tuple[bool, ...], ...]:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_L, ERROR_CORRECT_M

    level = ERROR_CORRECT_L if correction == "L" else ERROR_CORRECT_M
    code = qrcode.QRCode(error_correction=level, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())


def qr_size(data: str, correction: Correction = "M") -> tuple[int, int]:
    """(columns, rows) of terminal cells the code needs."""
    n = len(qr_matrix(data, correction))
    return n, (n + 1) // 2


def qr_text(data: str, correction: Correction = "M") -> Text:
    """The code as styled half blocks; explicit colours so it decodes on any theme."""
    matrix = qr_matrix(data, correction)
    text = Text(no_wrap=True, overflow="crop")
    styles = {
        (top, bottom): Style(color=_DARK if top else _LIGHT, bgcolor=_DARK if bottom else _LIGHT)
        for top in (False, True)
        for bottom in (False, True)
    }
    for y in range(0, len(matrix), 2):
        top_row = matrix[y]
        bottom_row = matrix[y + 1] if y + 1 < len(matrix) else (False,) * len(top_row)
        for top, bottom in zip(top_row, bottom_row, strict=True):
            text.append("▀", styles[(top, bottom)])
        if y + 2 < len(matrix):
            text.append("\n")
    return text


def compact_forms(uri: str) -> list[str]:
    """``uri`` and, for a BIP21 invoice, the same payment in fewer modules: address, amount and
    any lightning invoice upper-cased (the QR's denser alphanumeric mode), label and message
    dropped (the wallet pays the same address and amount; they only annotate its history)."""
    forms = [uri]
    if uri[:8].lower() == "bitcoin:":
        from terminal.domain.payloads import PayloadError, build_bip21
        from terminal.domain.payloads.bitcoin import parse_bitcoin_uri

        try:
            parsed = parse_bitcoin_uri(uri)
            compact = build_bip21(
                parsed.address.address if parsed.address else None,
                amount_sat=parsed.amount_sat,
                lightning=parsed.lightning,
                uppercase=True,
            )
        except PayloadError:
            return forms
        if compact != uri:
            forms.append(compact)
    return forms


def fitting_form(uri: str, *, cols: int, rows: int) -> str | None:
    """The first form of ``uri`` whose QR fits ``cols`` × ``rows`` cells, or ``None``."""
    for form in compact_forms(uri):
        width, height = qr_size(form)
        if width <= cols and height <= rows:
            return form
    return None


class QrCode(Static):
    """Shows ``data`` as a QR code, or says how much room it needs when the space is too small."""

    DEFAULT_CSS = """
    QrCode { width: auto; height: auto; }
    """

    def __init__(self, data: str = "", *, id: str | None = None, correction: Correction = "M") -> None:
        super().__init__(id=id)
        self.data = data
        self.correction: Correction = correction

    def on_mount(self) -> None:
        self.show(self.data)

    def show(self, data: str) -> None:
        self.data = data
        self.update(qr_text(data, self.correction) if data else "")

"""Exact decimal amounts: text in major units -> integer minor units, never through float."""

from __future__ import annotations

import re

from terminal.domain.payloads.errors import PayloadError

__all__ = ["format_minor", "parse_decimal"]

_DECIMAL = re.compile(r"(\d*)(?:\.(\d*))?", re.ASCII)  # ASCII: "١٠" is not an amount
_MAX_DIGITS = 40  # bounds int() on hostile input; 10^40 is beyond every supply


def parse_decimal(text: str, decimals: int, *, what: str, unit: str) -> int:
    """``"20.3"`` with 8 decimals -> 2_030_000_000. Digits, one optional point, nothing else."""
    m = _DECIMAL.fullmatch(text)
    if m is None or not (m[1] or m[2]):
        raise PayloadError("bad_amount", f"{what} {text!r} is not a plain decimal number")
    whole, frac = m[1], m[2] or ""
    if len(whole) > _MAX_DIGITS:
        raise PayloadError("bad_amount", f"{what} is absurdly large")
    if len(frac) > decimals:
        raise PayloadError(
            "amount_precision", f"{what} {text!r} has {len(frac)} decimals; {unit} allows at most {decimals}"
        )
    scale: int = 10**decimals
    return int(whole or "0") * scale + int(frac.ljust(decimals, "0") or "0")


def format_minor(minor: int, decimals: int) -> str:
    """Shortest exact decimal: 2_030_000_000 with 8 decimals -> ``"20.3"``."""
    whole, frac = divmod(minor, 10**decimals)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"

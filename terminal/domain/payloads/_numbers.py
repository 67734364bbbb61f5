"""Exact decimal amounts: text in major units -> integer minor units, never through float.

Also the caps on what an amount can be, per asset, in its smallest unit. A payload asking
for more is not a payment but a typo or an attack, refused with ``amount_too_large``:

============  ===============================  ==========================================
asset         cap (smallest unit)              why
============  ===============================  ==========================================
BTC           2,100,000,000,000,000 sat        21,000,000 BTC: every bitcoin there will be
BTC-LN        2,100,000,000,000,000,000 msat   the same 21,000,000 BTC in millisatoshi
ETH, ERC-20   2^256 - 1 wei / base units       EVM ``uint256``: no larger value can be sent
SOL, SPL      2^64 - 1 lamports / base units   Solana ``u64`` lamports and token amounts
============  ===============================  ==========================================
"""

from __future__ import annotations

import re

from terminal.domain.payloads.errors import PayloadError

__all__ = [
    "BTC_MAX_SAT",
    "LN_MAX_MSAT",
    "U64_MAX",
    "UINT256_MAX",
    "check_cap",
    "format_minor",
    "parse_decimal",
]

BTC_MAX_SAT = 21_000_000 * 10**8
LN_MAX_MSAT = BTC_MAX_SAT * 1000
UINT256_MAX = 2**256 - 1
U64_MAX = 2**64 - 1

_DECIMAL = re.compile(r"(\d*)(?:\.(\d*))?", re.ASCII)  # ASCII: "١٠" is not an amount
_MAX_DIGITS = 40  # bounds int() on hostile input; 10^40 is beyond every supply


def check_cap(minor: int, cap: int, *, what: str, why: str) -> int:
    """``minor`` when it is at most ``cap``; otherwise ``amount_too_large`` saying ``why``."""
    if minor > cap:
        raise PayloadError("amount_too_large", f"{what} is more than {why}; this is not a real payment")
    return minor


def parse_decimal(text: str, decimals: int, *, what: str, unit: str) -> int:
    """``"20.3"`` with 8 decimals -> 2_030_000_000. Digits, one optional point, nothing else."""
    m = _DECIMAL.fullmatch(text)
    if m is None or not (m[1] or m[2]):
        raise PayloadError("bad_amount", f"{what} {text!r} is not a plain decimal number")
    whole, frac = m[1], m[2] or ""
    if len(whole) > _MAX_DIGITS:
        raise PayloadError("amount_too_large", f"{what} has {len(whole)} digits; this is not a real payment")
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

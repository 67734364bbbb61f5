"""Text that a screen shows: which characters are refused and why.

A reference, an id or a name the backend stores ends up on a merchant's screen, a receipt or
a log line. Control characters (C0, DEL, C1, NUL among them) break those lines or hide text,
and Unicode bidi controls reorder what is shown: ``INV-<U+202E>01-5202`` is displayed as
``INV-2025-10``. Neither belongs in an identifier, so both are refused where text enters.

:data:`UNSAFE_CLASS` is the same set as a regular-expression character class, written with
``\\uXXXX`` escapes only, so it reads the same in Python ``re`` and in the ECMA-262 patterns of
a JSON Schema (an OpenAPI document can say exactly what is refused).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["SAFE_TEXT_PATTERN", "UNSAFE_CLASS", "describe_unsafe", "find_unsafe"]

# C0 controls and DEL, C1 controls, ALM (U+061C), LRM/RLM (U+200E/F), the embeddings and
# overrides LRE..RLO (U+202A-202E) and the isolates LRI..PDI (U+2066-2069).
UNSAFE_CLASS = r"\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
SAFE_TEXT_PATTERN = f"^[^{UNSAFE_CLASS}]*$"
_UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")


def find_unsafe(text: str) -> tuple[int, str] | None:
    """The first refused character and its index, or None when ``text`` is clean."""
    m = _UNSAFE.search(text)
    return None if m is None else (m.start(), m.group())


def describe_unsafe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE`` (control characters have no name: ``U+0000 control``)."""
    name = unicodedata.name(char, "")
    kind = "bidi control" if unicodedata.category(char) == "Cf" else "control character"
    return f"U+{ord(char):04X} {name or kind}"

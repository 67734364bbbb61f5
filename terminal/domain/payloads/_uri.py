"""Query-string helpers shared by the URI parsers (RFC 3986 percent-decoding, strictly UTF-8)."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, quote, unquote_to_bytes, urlsplit

from terminal.domain.payloads.errors import PayloadError

__all__ = ["pct_decode", "pct_encode", "safe_urlsplit", "split_query"]

_BAD_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def pct_decode(value: str, *, what: str) -> str:
    """Percent-decode as UTF-8; ``+`` stays a plus (RFC 3986, not HTML forms)."""
    if _BAD_PCT.search(value):
        raise PayloadError("bad_encoding", f"{what} has a '%' that is not followed by two hex digits")
    try:
        return unquote_to_bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("bad_encoding", f"{what} is not valid UTF-8 once percent-decoded") from None


def pct_encode(value: str) -> str:
    # Unreserved characters stay; everything else (including '&', '=', '+', '?', ' ') is encoded.
    return quote(value, safe="-._~")


def split_query(query: str) -> list[tuple[str, str]]:
    """``a=1&b&c=`` -> ``[("a", "1"), ("b", ""), ("c", "")]``; keys and values still encoded."""
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((key, value))
    return pairs


def safe_urlsplit(url: str, *, what: str = "URL") -> SplitResult:
    """``urlsplit`` whose errors (bad IPv6 brackets, bad port) become ``PayloadError``."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise PayloadError("bad_url", f"{what} is malformed: {exc}") from None
    return parts

"""LNURL: bech32 ``LNURL1...`` (LUD-01), the ``lightning=`` fallback in an https link (LUD-01),
and the LUD-17 schemes ``lnurlw://``, ``lnurlp://``, ``lnurlc://``, ``keyauth://``.

Every form resolves to the URL a wallet calls: ``https://`` for clearnet, ``http://`` only for
``.onion`` hosts. Bolt Card taps (``lnurlw://`` with ``p`` and ``c``) are recognised in
``boltcard.py`` before this module is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terminal.domain.payloads import bech32
from terminal.domain.payloads._host import check_url_host
from terminal.domain.payloads._uri import pct_decode, safe_urlsplit, split_query
from terminal.domain.payloads.errors import PayloadError

__all__ = ["LUD17_SCHEMES", "Lnurl", "decode_lnurl_bech32", "encode_lnurl", "parse_lnurl"]

# LUD-17 scheme -> the LNURL tag it implies
LUD17_SCHEMES = {
    "lnurlc": "channelRequest",
    "lnurlw": "withdrawRequest",
    "lnurlp": "payRequest",
    "keyauth": "login",
}
KNOWN_TAGS = frozenset(LUD17_SCHEMES.values())


@dataclass(frozen=True, slots=True)
class Lnurl:
    kind = "lnurl"

    url: str  # what to GET: https://..., or http://... for an onion service
    tag: str | None  # from the scheme or the `tag` query parameter; None until the service says
    source: str  # "bech32" (LUD-01), "lud17" (scheme), "fallback" (https link with lightning=)
    original: str

    def to_json(self) -> dict[str, Any]:
        return {
            "network": None,
            "asset": "BTC-LN",
            "amount": None,
            "amount_minor": None,
            "url": self.url,
            "tag": self.tag,
            "source": self.source,
        }


def _check_url(url: str, *, what: str) -> str:
    """The URL to call, its host in ASCII (punycode) form: https, or http for an onion service."""
    parts = safe_urlsplit(url, what=what)
    host = (parts.hostname or "").lower()
    if not host:
        raise PayloadError("bad_url", f"{what} has no host")
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and host.endswith(".onion")):
        return check_url_host(url, parts, scheme=scheme, what=what)
    if scheme == "http":
        raise PayloadError("bad_url", f"{what} uses plain http on a clearnet host; LNURL needs https")
    raise PayloadError("bad_url", f"{what} is not an https URL")


def _tag_of(url: str) -> str | None:
    for k, v in split_query(safe_urlsplit(url).query):
        if k == "tag":
            return pct_decode(v, what="tag")
    return None


def decode_lnurl_bech32(text: str) -> str:
    """``LNURL1...`` -> the URL it encodes (checked: https, or http for .onion)."""
    hrp, data, variant = bech32.decode(text, max_length=None, what="LNURL")
    if hrp != "lnurl":
        raise PayloadError("bad_hrp", f"an LNURL starts with 'lnurl1', not {hrp!r}")
    if variant is not bech32.Variant.BECH32:
        raise PayloadError("bad_checksum", "an LNURL uses a bech32 (not bech32m) checksum")
    raw = bytes(bech32.convertbits(data, 5, 8, pad=False))
    try:
        url = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("bad_encoding", "the LNURL does not decode to UTF-8 text") from None
    return _check_url(url, what="the LNURL's URL")


def encode_lnurl(url: str) -> str:
    """LUD-01 encoding, upper case as QR codes should use it."""
    _check_url(url, what="URL")
    return bech32.encode(
        "lnurl", bech32.convertbits(url.encode(), 8, 5, pad=True), bech32.Variant.BECH32
    ).upper()


def parse_lnurl(text: str) -> Lnurl:
    """Any LNURL form. Raises ``PayloadError`` (``unsupported_scheme`` when it is none of them)."""
    low = text.lower()
    if low.startswith("lightning:"):
        text, low = text[10:], low[10:]
    if low.startswith("lnurl1"):
        url = decode_lnurl_bech32(text)
        return Lnurl(url=url, tag=_tag_of(url), source="bech32", original=text)
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() in LUD17_SCHEMES:
        host = (safe_urlsplit("//" + rest, what="LNURL").hostname or "").lower()
        if not host:
            raise PayloadError("bad_url", f"{scheme}:// link has no host")
        url = _check_url(("http://" if host.endswith(".onion") else "https://") + rest, what="link")
        return Lnurl(url=url, tag=LUD17_SCHEMES[scheme.lower()], source="lud17", original=text)
    if sep and scheme.lower() == "https":
        # LUD-01 fallback: https://service.com/giftcard/redeem?id=123&lightning=LNURL1...
        for k, v in split_query(safe_urlsplit(text, what="link").query):
            if k.lower() == "lightning" and v.lower().startswith("lnurl1"):
                url = decode_lnurl_bech32(pct_decode(v, what="lightning parameter"))
                return Lnurl(url=url, tag=_tag_of(url), source="fallback", original=text)
        tag = _tag_of(text)
        if tag in KNOWN_TAGS:
            return Lnurl(url=_check_url(text, what="link"), tag=tag, source="fallback", original=text)
        raise PayloadError("unsupported_scheme", "a web link, not a payment code")
    raise PayloadError("unsupported_scheme", "not an LNURL")

"""LNURL: LUD-01's example (lnurl/luds 01.md), its fallback scheme, and LUD-17's schemes (17.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.payloads import Lnurl, PayloadError, parse_payload, payload_to_json
from terminal.domain.payloads.lnurl import encode_lnurl

LUD01 = (
    "LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPN"
    "XSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS"
)
LUD01_URL = "https://service.com/api?q=3fc3645b439ce8e7f2553a69e5267081d96dcd340693afabe04be7b0ccd178df"


def lnurl(text: str) -> Lnurl:
    p = parse_payload(text)
    assert isinstance(p, Lnurl)
    return p


def err(text: str) -> str:
    with pytest.raises(PayloadError) as exc:
        parse_payload(text)
    return exc.value.code


def test_lud01_example_both_cases() -> None:
    assert lnurl(LUD01).url == LUD01_URL
    assert lnurl(LUD01.lower()).url == LUD01_URL  # "can both be uppercase or lowercase"
    assert lnurl("lightning:" + LUD01).url == LUD01_URL
    assert encode_lnurl(LUD01_URL) == LUD01
    j = payload_to_json(lnurl(LUD01))
    assert j["kind"] == "lnurl" and j["url"] == LUD01_URL and j["source"] == "bech32"


def test_lud01_mixed_case_and_checksum() -> None:
    assert err(LUD01[:10] + LUD01[10:].lower()) == "mixed_case"  # "but not mixed case"
    assert err(LUD01[:-1] + ("Q" if LUD01[-1] != "Q" else "P")) == "bad_checksum"


def test_lud01_fallback_scheme() -> None:
    # "https://service.com/giftcard/redeem?id=123&lightning=LNURL1..."
    p = lnurl(f"https://service.com/giftcard/redeem?id=123&lightning={LUD01}")
    assert p.url == LUD01_URL and p.source == "fallback"


def test_https_or_onion_only() -> None:
    assert lnurl(encode_lnurl("http://abcdefgh.onion/lnurl")).url == "http://abcdefgh.onion/lnurl"
    from terminal.domain.payloads import bech32

    clear_http = bech32.encode(
        "lnurl", bech32.convertbits(b"http://service.com/api", 8, 5, pad=True), bech32.Variant.BECH32
    )
    assert err(clear_http) == "bad_url"  # "http:// v2/v3 onion link" only
    ftp = bech32.encode(
        "lnurl", bech32.convertbits(b"ftp://service.com/", 8, 5, pad=True), bech32.Variant.BECH32
    )
    assert err(ftp) == "bad_url"


@pytest.mark.parametrize(
    ("link", "url", "tag"),
    [
        # LUD-17: "lnurlw://domain.com/path ... GET request to https://domain.com/path"
        ("lnurlw://domain.com/path", "https://domain.com/path", "withdrawRequest"),
        # "lnurlp://examplennnnnnnn.onion/path ... request to http://examplennnnnnnn.onion/path"
        ("lnurlp://examplennnnnnnn.onion/path", "http://examplennnnnnnn.onion/path", "payRequest"),
        ("lnurlc://domain.com/c", "https://domain.com/c", "channelRequest"),
        ("keyauth://domain.com/auth?tag=login&k1=00", "https://domain.com/auth?tag=login&k1=00", "login"),
    ],
)
def test_lud17_schemes(link: str, url: str, tag: str) -> None:
    p = lnurl(link)
    assert (p.url, p.tag, p.source) == (url, tag, "lud17")


def test_tag_from_query_and_plain_links() -> None:
    url = "https://service.com/w?tag=withdrawRequest&k1=ab"
    assert lnurl(encode_lnurl(url)).tag == "withdrawRequest"
    assert lnurl(url).tag == "withdrawRequest"
    assert err("https://example.com/menu") == "unsupported_scheme"
    assert err("lnurlw://") == "bad_url"


@given(
    host=st.from_regex(r"[a-z](?:[a-z0-9-]{0,19}[a-z0-9])?\.(com|org|onion)", fullmatch=True),
    path=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/-_.~", max_size=40),
    query=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=&%", max_size=40),
)
def test_encode_round_trip(host: str, path: str, query: str) -> None:
    scheme = "http" if host.endswith(".onion") else "https"
    url = f"{scheme}://{host}/{path}" + (f"?{query}" if query else "")
    text = encode_lnurl(url)
    assert text == text.upper()
    assert lnurl(text).url == url


@pytest.mark.parametrize(
    ("link", "code"),
    [
        ("lnurlp://\u0455ervice.com/pay", "lookalike_host"),  # issue 13: Cyrillic ѕ among Latin letters
        ("lnurlw://p\u0430ypal.com/w", "lookalike_host"),  # Cyrillic а
        ("lnurlp://xn--ervice-8wf.com/pay", "lookalike_host"),  # the same look-alike, already punycode
        ("lnurlp://servi\u200dce.com/pay", "bad_host"),  # a zero-width joiner
        ("lnurlp://ser_vice.com/pay", "bad_host"),
        ("lnurlp://-service.com/pay", "bad_host"),
        ("lnurlp://xn--zz.com/pay", "bad_host"),  # not punycode
        ("lnurlp://service.com@evil.example/pay", "bad_url"),  # goes to evil.example
        ("https://service.com@evil.example/w?tag=withdrawRequest", "bad_url"),
        ("solana:https%3A%2F%2F\u0455ervice.com%2Fpay", "lookalike_host"),
        (
            "lnurlw://\u0455ervice.com/w?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE",
            "lookalike_host",
        ),
    ],
)
def test_lookalike_and_malformed_hosts_are_refused(link: str, code: str) -> None:
    assert err(link) == code


def test_international_hosts_are_shown_in_punycode() -> None:
    # issue 13: "ѕervice.com" was shown as https://ѕervice.com/pay; one-script names are fine, in ASCII
    assert lnurl("lnurlp://\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/pay").url == (
        "https://xn--e1afmkfd.xn--p1ai/pay"
    )
    assert lnurl(encode_lnurl("https://m\u00fcnchen.de/lnurl")).url == "https://xn--mnchen-3ya.de/lnurl"
    # Japanese mixes Han, Hiragana and Latin by nature: allowed (UTS #39 highly restrictive)
    assert lnurl("lnurlp://\u6771\u4eac\u3072abc.jp/p").url.startswith("https://xn--")
    assert lnurl("lnurlp://\u30e9\u30fc\u30e1\u30f3.jp/p").url == "https://xn--4dkp5a8a.jp/p"  # ラーメン
    assert lnurl("lnurlp://Service.COM/pay").url == "https://service.com/pay"
    tap = parse_payload("lnurlw://m\u00fcnchen.de/w?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE")
    assert payload_to_json(tap)["url"].startswith("https://xn--mnchen-3ya.de/w?p=")
    sol = payload_to_json(parse_payload("solana:https%3A%2F%2Fm%C3%BCnchen.de%2Fpay"))
    assert sol["url"] == "https://xn--mnchen-3ya.de/pay"

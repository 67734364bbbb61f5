"""NDEF messages: the NFC Forum RTD-URI 1.0 prefix table (codes 0x00-0x23), strict handling of
unknown codes, text records, and payment payloads carried inside (Bolt Card taps, LNURLs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.payloads import BoltCardTap, NdefMessage, PayloadError, parse_ndef, parse_payload
from terminal.domain.payloads.ndef import URI_PREFIXES, encode_uri_message

# NFC Forum RTD-URI 1.0 table 3, "URI Identifier Codes" (as reproduced e.g. in "Beginning NFC", appendix A)
PREFIX_TABLE = {
    0x00: "", 0x01: "http://www.", 0x02: "https://www.", 0x03: "http://", 0x04: "https://",
    0x05: "tel:", 0x06: "mailto:", 0x07: "ftp://anonymous:anonymous@", 0x08: "ftp://ftp.",
    0x09: "ftps://", 0x0A: "sftp://", 0x0B: "smb://", 0x0C: "nfs://", 0x0D: "ftp://", 0x0E: "dav://",
    0x0F: "news:", 0x10: "telnet://", 0x11: "imap:", 0x12: "rtsp://", 0x13: "urn:", 0x14: "pop:",
    0x15: "sip:", 0x16: "sips:", 0x17: "tftp:", 0x18: "btspp://", 0x19: "btl2cap://", 0x1A: "btgoep://",
    0x1B: "tcpobex://", 0x1C: "irdaobex://", 0x1D: "file://", 0x1E: "urn:epc:id:", 0x1F: "urn:epc:tag:",
    0x20: "urn:epc:pat:", 0x21: "urn:epc:raw:", 0x22: "urn:epc:", 0x23: "urn:nfc:",
}  # fmt: skip


def uri_record(code: int, rest: bytes) -> bytes:
    """A short, single (MB|ME|SR) well-known "U" record: D1 01 <len> 55 <code> <rest>."""
    payload = bytes([code]) + rest
    return bytes([0xD1, 0x01, len(payload), 0x55]) + payload


def test_our_table_is_the_forums() -> None:
    assert dict(enumerate(URI_PREFIXES)) == PREFIX_TABLE


@pytest.mark.parametrize("code", sorted(PREFIX_TABLE))
def test_every_prefix_code(code: int) -> None:
    msg = parse_ndef(uri_record(code, b"example"))
    assert msg.records[0].uri == PREFIX_TABLE[code] + "example"


def test_rtd_uri_examples() -> None:
    # RTD-URI layout: "http://www.nfc.com" is code 0x01 + "nfc.com"; "tel:+35891234567" is 0x05 + number
    assert parse_ndef(bytes.fromhex("D1010855016E66632E636F6D")).records[0].uri == "http://www.nfc.com"
    assert (
        parse_ndef(bytes.fromhex("D1010D55052B3335383931323334353637")).records[0].uri == "tel:+35891234567"
    )


@pytest.mark.parametrize("code", [0x24, 0x7F, 0xFF])
def test_unknown_prefix_codes(code: int) -> None:
    # "36…255: Reserved for future use": an error in strict mode, no prefix otherwise
    with pytest.raises(PayloadError) as exc:
        parse_ndef(uri_record(code, b"example"))
    assert exc.value.code == "unknown_uri_prefix"
    assert parse_ndef(uri_record(code, b"example"), strict=False).records[0].uri == "example"


def test_text_record() -> None:
    msg = parse_ndef(bytes.fromhex("D1010F5402656E48656C6C6F20576F726C6421"))
    assert (msg.records[0].text, msg.records[0].language) == ("Hello World!", "en")


@pytest.mark.parametrize(
    ("hexdata", "code"),
    [
        ("", "bad_ndef"),
        ("D1", "ndef_bad_length"),  # a header cut short
        ("D101", "ndef_bad_length"),
        ("9101035501414243", "ndef_bad_length"),  # no ME: the next "record" is one byte
        ("D1010A55", "ndef_bad_length"),  # claims 10 payload bytes, has none
        ("51010355014142", "bad_ndef"),  # first record without MB
        ("D901030055014142", "bad_ndef"),  # IL set, ID length 0 (not canonical)
        ("F1010355014142", "bad_ndef"),  # chunked
        ("D0010355014142", "bad_ndef"),  # TNF empty with data
        ("D5010355014142", "bad_ndef"),  # TNF unknown with a type
        ("D6000155014142", "bad_ndef"),  # TNF unchanged outside a chunk
        ("D7000155014142", "bad_ndef"),  # TNF reserved
    ],
)
def test_malformed(hexdata: str, code: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_ndef(bytes.fromhex(hexdata))
    assert exc.value.code == code


GOOD_BTC = "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=10"


def test_bytes_after_the_last_record_are_refused() -> None:
    # issue 13: a "...?amount=10" URI record with its length byte lowered by one parsed as amount 1
    good = encode_uri_message(GOOD_BTC)
    assert good[0] & 0x10 and good[2] == len(good) - 4  # one short record: D1 01 <len> 55 ...
    msg = parse_payload("ndef:" + good.hex())
    assert isinstance(msg, NdefMessage) and msg.content is not None
    assert msg.content.to_json()["amount_minor"] == "1000000000"
    lowered = good[:2] + bytes([good[2] - 1]) + good[3:]
    with pytest.raises(PayloadError) as exc:
        parse_payload("ndef:" + lowered.hex())
    assert exc.value.code == "ndef_trailing_data"
    raised = good[:2] + bytes([good[2] + 1]) + good[3:]
    with pytest.raises(PayloadError) as exc:
        parse_ndef(raised)
    assert exc.value.code == "ndef_bad_length"
    for tail in (b"\x00", b"\xfe", good):
        with pytest.raises(PayloadError) as exc:
            parse_ndef(good + tail)
        assert exc.value.code == "ndef_trailing_data"


def test_long_form_for_a_short_payload() -> None:
    # valid framing but not the one canonical layout: refused when strict, read when relaxed
    payload = b"\x00" + GOOD_BTC.encode()
    long_form = bytes([0xC1, 0x01]) + len(payload).to_bytes(4, "big") + b"U" + payload
    with pytest.raises(PayloadError) as exc:
        parse_ndef(long_form)
    assert exc.value.code == "bad_ndef"
    assert parse_ndef(long_form, strict=False).records[0].uri == GOOD_BTC


def test_two_records_and_a_long_record() -> None:
    import ndef as ndeflib

    records = [ndeflib.TextRecord("hello", "en"), ndeflib.UriRecord("https://example.com/" + "x" * 300)]
    data = b"".join(ndeflib.message_encoder(records))
    msg = parse_ndef(data)
    assert [r.type for r in msg.records] == ["urn:nfc:wkt:T", "urn:nfc:wkt:U"]
    assert msg.records[1].uri == "https://example.com/" + "x" * 300
    with pytest.raises(PayloadError) as exc:
        parse_ndef(data[:-1])
    assert exc.value.code == "ndef_bad_length"


def test_bolt_card_tap_inside_ndef() -> None:
    tap = "lnurlw://card.yourdomain.com?p=A2EF40F6D46F1BB36E6EBF0114D4A464&c=F509EEA788E37E32"
    data = encode_uri_message(tap)
    assert data[4] == 0x00  # no abbreviation applies to lnurlw://
    msg = parse_payload("ndef:" + data.hex())
    assert isinstance(msg, NdefMessage)
    assert isinstance(msg.content, BoltCardTap)
    # an https LNURL gets the 0x04 abbreviation and still resolves
    https = encode_uri_message("https://service.com/w?tag=withdrawRequest")
    assert https[4] == 0x04
    inner = parse_payload("ndef:" + https.hex())
    assert isinstance(inner, NdefMessage) and inner.content is not None and inner.content.kind == "lnurl"


def test_ndef_without_payment_content() -> None:
    msg = parse_payload("ndef:D1010855016E66632E636F6D")
    assert isinstance(msg, NdefMessage) and msg.content is None
    with pytest.raises(PayloadError) as exc:
        parse_payload("ndef:zz")
    assert exc.value.code == "bad_ndef"


# RTD-URI forbids control characters (ndeflib refuses them when decoding), so the text has none
_URI_TEXT = st.text(st.characters(min_codepoint=32, exclude_categories=("Cs",)), min_size=1, max_size=60)


@given(prefix=st.sampled_from(sorted(set(URI_PREFIXES))), rest=_URI_TEXT)
def test_uri_message_round_trip(prefix: str, rest: str) -> None:
    # ndeflib picks the longest matching prefix code; decoding gives the URI back exactly
    uri = prefix + rest
    assert parse_ndef(encode_uri_message(uri)).records[0].uri == uri

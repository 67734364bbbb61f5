"""The pure ISO-DEP / Type 4 protocol against the card models (no radio)."""

from __future__ import annotations

import pytest

from drivers.nfc import cards, protocol
from drivers.nfc.errors import NdefFormatError, TagLostError, TagUnsupportedError, WalletError


def test_type4_ndef_read_in_chunks_no_larger_than_mle() -> None:
    url = "lnurlw://card.example.com/" + "x" * 300
    tag = cards.type4_tag(cards.ndef_message(url), mle=0x20)
    content = protocol.read_iso_dep(tag.transceive)
    assert content.payload == url and content.source == "ndef"
    app = tag.applications[0]
    assert isinstance(app, cards.NdefApplication)
    sizes = [n for off, n in app.reads if off >= 2]
    assert max(sizes) == 0x20 and sum(sizes) == len(content.ndef or b"")
    # the reader asked the wallet first, then the NDEF application
    assert tag.apdus[0] == protocol.select_aid(protocol.WALLET_AID)
    assert tag.apdus[1] == protocol.select_aid(protocol.NDEF_AID)


def test_wallet_token_longer_than_one_response_uses_get_response() -> None:
    token = "cpw1." + "A" * 700
    phone = cards.wallet_phone(token)
    content = protocol.read_iso_dep(phone.transceive)
    assert content == protocol.CardContent(payload=token, source="wallet")
    assert sum(a[1] == protocol.INS_GET_RESPONSE for a in phone.apdus) == 2


def test_locked_wallet_says_so() -> None:
    with pytest.raises(WalletError) as info:
        protocol.read_iso_dep(cards.wallet_phone("t", locked=True).transceive)
    assert info.value.title == "Wallet locked"


@pytest.mark.parametrize(
    ("ndef", "error", "words"),
    [
        (b"", TagUnsupportedError, "empty"),
        (bytes.fromhex("d101ff55") + b"x", NdefFormatError, "malformed"),
        (b"\xd2\x0a\x03image/jpeg\xff\xd8\xff", TagUnsupportedError, "no URI or text"),
    ],
)
def test_bad_ndef_gets_a_specific_error(ndef: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        protocol.read_iso_dep(cards.type4_tag(ndef).transceive)


def test_text_record_is_a_payload_when_there_is_no_uri() -> None:
    raw = cards.ndef_message("LNURL1DP68GURN8GHJ7", kind="text")
    assert protocol.payload_from_ndef(raw) == "LNURL1DP68GURN8GHJ7"


def test_nlen_beyond_the_file_size_is_rejected() -> None:
    tag = cards.type4_tag(cards.ndef_message("lnurlw://a"))
    app = tag.applications[0]
    assert isinstance(app, cards.NdefApplication)
    real = app.selected

    def lying() -> bytes:
        sw = real()
        app._files[cards.NDEF_FILE] = b"\xff\xff" + app._files[cards.NDEF_FILE][2:]
        return sw

    app.selected = lying  # type: ignore[method-assign]
    with pytest.raises(NdefFormatError, match="NLEN"):
        protocol.read_iso_dep(tag.transceive)


def test_a_card_with_neither_application_is_unsupported() -> None:
    with pytest.raises(TagUnsupportedError, match="neither our wallet nor an NDEF"):
        protocol.read_iso_dep(cards.IsoDepCard([]).transceive)


def test_a_response_without_status_word_means_the_card_is_gone() -> None:
    with pytest.raises(TagLostError):
        protocol.read_iso_dep(lambda apdu: b"")


def test_bad_capability_container() -> None:
    with pytest.raises(NdefFormatError, match="at least 15"):
        protocol.parse_cc(b"\x00\x0f\x20")
    with pytest.raises(NdefFormatError, match="mapping version"):
        protocol.parse_cc(bytes.fromhex("000F3000FF00FF0406E1040100 00FF".replace(" ", "")))

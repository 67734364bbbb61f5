"""Replay guards must see through spellings of the same one-time payload."""

from __future__ import annotations

import pytest

from terminal.domain.payloads.ndef import encode_uri_message
from terminal.domain.payloads.samples import TAP
from terminal.journal import Journal, ReplayError
from terminal.presentation import identify

NOW = 1_800_000_000.0


def _remember(journal: Journal, payload: str, reference: str) -> None:
    seen = identify(payload, now=NOW)
    assert seen.replay_token is not None, f"{payload!r} has no replay token"
    journal.remember_token(seen.guard_kind or seen.kind, seen.replay_token, reference)


@pytest.mark.parametrize(
    ("first", "again"),
    [
        (TAP, "ndef:" + encode_uri_message(TAP).hex()),
        ("ndef:" + encode_uri_message(TAP).hex(), "ndef:" + encode_uri_message(TAP).hex()),
        ("lnurlw://service.com/w?k1=abc", "LNURLW://SERVICE.COM/w?k1=abc"),
    ],
)
def test_a_respelt_one_time_payload_is_a_replay(first: str, again: str) -> None:
    journal = Journal(":memory:")
    journal.open_sale(reference="r1", idempotency_key="k1", fiat_minor=100, fiat_currency="EUR", asset="BTC")
    journal.open_sale(reference="r2", idempotency_key="k2", fiat_minor=100, fiat_currency="EUR", asset="BTC")
    _remember(journal, first, "r1")
    with pytest.raises(ReplayError):
        _remember(journal, again, "r2")


def test_an_ndef_wrapped_tap_keeps_its_own_kind_for_the_offline_rules() -> None:
    seen = identify("ndef:" + encode_uri_message(TAP).hex(), now=NOW)
    assert seen.kind == "ndef"
    assert seen.guard_kind == "bolt_card"

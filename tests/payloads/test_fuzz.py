"""Never crash on garbage: ``parse_payload`` returns a payload or raises ``PayloadError``, nothing else.

Hypothesis feeds arbitrary text and mutations of valid strings of every kind (characters
inserted, deleted, replaced, case flipped, truncated, duplicated). The default run does about
1,000 cases; ``-m slow`` runs 10,000.
"""

from __future__ import annotations

import contextlib
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal.domain.payloads import PayloadError, bech32, parse_ndef, parse_payload, payload_to_json
from terminal.domain.payloads.ndef import encode_uri_message
from terminal.domain.payloads.samples import ALL, BOLT11, CORPUS, TAP

from . import fuzzing

TAP_NDEF = encode_uri_message(TAP)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid sample of any kind with 1-4 character edits (fuzzing.py's mutation engine)."""
    text = draw(st.sampled_from(ALL))
    return fuzzing.char_mutation(random.Random(draw(st.integers(0, 2**64 - 1))), text)


def check(text: str) -> None:
    try:
        payload = parse_payload(text, now=1_700_000_000)
    except PayloadError as exc:
        error = exc
    else:
        # whatever parses must also serialise for the CLI
        json.dumps(payload_to_json(payload))
        return
    assert error.code and error.message


payloads = st.text(max_size=200) | mutated() | st.sampled_from(ALL)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_mutations_never_crash(text: str) -> None:
    check(text)


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    check(text)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=payloads)
def test_ten_thousand_cases(text: str) -> None:
    check(text)


@pytest.mark.parametrize(("kind", "text"), [(k, t) for k, ts in CORPUS.items() for t in ts])
def test_corpus_is_valid(kind: str, text: str) -> None:
    assert parse_payload(text).kind == kind


# Mutations behind the checksum: change an invoice's 5-bit words and re-checksum it, so the
# field parser and signature recovery (not just the bech32 gate) meet garbage.
_HRP, _WORDS, _ = bech32.decode(BOLT11, max_length=None)


@settings(max_examples=200, deadline=None)
@given(
    edits=st.lists(st.tuples(st.integers(0, len(_WORDS) - 1), st.integers(0, 31), st.booleans()), max_size=6),
    hrp=st.sampled_from([_HRP, "lnbc", "lntb1m", "lnbcrt10p", "lnbc0", "lntbs", "lnbc1"]),
)
def test_rechecksummed_invoices_never_crash(edits: list[tuple[int, int, bool]], hrp: str) -> None:
    words = list(_WORDS)
    for pos, value, insert in edits:
        if insert:
            words.insert(pos, value)
        elif pos < len(words):
            words[pos] = value
    check(bech32.encode(hrp, words, bech32.Variant.BECH32))


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=64)
    | st.builds(lambda b, i: TAP_NDEF[:i] + b + TAP_NDEF[i:], st.binary(max_size=4), st.integers(0, 80))
)
def test_ndef_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(PayloadError):
        parse_ndef(data)


@pytest.mark.parametrize(
    "text",
    [
        # int() refuses strings over 4,300 digits: length checks must come first
        "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed?value=1e" + "9" * 5000,
        "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed?value=" + "9" * 5000,
        "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed@" + "1" * 5000,
        "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=" + "1" * 5000,
        "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=0." + "1" * 5000,
        "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=" + "1" * 2000,
        "lnbc" + "1" * 5000 + "m1qqqqqq",
        "1" * 5000,
        # non-ASCII digits are digits to Python's \\d and int(), not to these specs
        "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=\u0661\u0660",
        "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed?value=\u0661e18",
        "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=\u0661",
    ],
)
def test_hostile_numbers(text: str) -> None:
    with pytest.raises(PayloadError):
        parse_payload(text)

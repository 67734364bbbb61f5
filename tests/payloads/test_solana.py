"""Solana Pay 1.1: the spec's examples (anza-xyz/solana-pay SPEC.md, "Examples" of the transfer and
the transaction request) and the reference parser's tests (core/test/parseURL.test.ts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.payloads import (
    PayloadError,
    SolanaTransaction,
    SolanaTransfer,
    build_solana_pay,
    parse_payload,
    payload_to_json,
)

MVINES = "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"
REF = "82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def transfer(text: str) -> SolanaTransfer:
    p = parse_payload(text)
    assert isinstance(p, SolanaTransfer)
    return p


def err(text: str) -> str:
    with pytest.raises(PayloadError) as exc:
        parse_payload(text)
    return exc.value.code


def test_spec_transfer_1_sol() -> None:
    t = transfer(
        f"solana:{MVINES}?amount=1&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId12345"
    )
    assert (t.recipient, t.amount, t.label, t.message, t.memo) == (
        MVINES,
        "1",
        "Michael",
        "Thanks for all the fish",
        "OrderId12345",
    )
    j = payload_to_json(t)
    assert (j["kind"], j["asset"], j["amount"], j["amount_minor"]) == (
        "solana_transfer",
        "SOL",
        "1",
        "1000000000",
    )


def test_spec_transfer_001_usdc() -> None:
    t = transfer(f"solana:{MVINES}?amount=0.01&spl-token={USDC}")
    j = payload_to_json(t)
    assert (j["asset"], j["amount"], j["amount_minor"], j["token"]) == ("USDC", "0.01", "10000", USDC)


def test_spec_transfer_without_amount_uses_ampersand() -> None:
    # SPEC.md: "solana:mvines...&label=Michael" ("The user must be prompted for the amount").
    # Without '?' the whole rest is the path (RFC 3986), so the recipient is not a key; the
    # reference parseURL rejects it the same way (new PublicKey(pathname) throws).
    assert err(f"solana:{MVINES}&label=Michael") == "bad_address"
    # the intended request, written with '?', parses
    t = transfer(f"solana:{MVINES}?label=Michael")
    assert t.amount is None and t.label == "Michael"


def test_reference_parser_cases() -> None:
    # parseURL.test.ts "should parse successfully"
    t = transfer(
        f"solana:{MVINES}?amount=0.000000001&reference={REF}&label=Michael"
        "&message=Thanks%20for%20all%20the%20fish&memo=OrderId5678"
    )
    assert (t.amount, t.references, t.spl_token, t.memo) == ("0.000000001", (REF,), None, "OrderId5678")
    assert t.amount_minor == 1
    # "should parse with spl-token" (an unknown mint: its decimals are unknown, the amount stays text)
    t = transfer(
        f"solana:{MVINES}?amount=1.01&spl-token={REF}&label=Michael"
        "&message=Thanks%20for%20all%20the%20fish&memo=OrderId5678"
    )
    assert (t.amount, t.spl_token, t.references) == ("1.01", REF, ())
    j = payload_to_json(t)
    assert (j["asset"], j["amount"], j["amount_minor"]) == (None, "1.01", None)
    # "should parse without an amount"
    t = transfer(
        f"solana:{MVINES}?reference={REF}&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId5678"
    )
    assert t.amount is None and t.references == (REF,)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("X" * 2049, "too_long"),  # "throws an error on invalid length"
        ("eth:0xffff", "unsupported_scheme"),  # "invalid protocol"
        ("solana:0xffff", "bad_char"),  # "invalid recepient": '0' and 'x' are not base58
        (f"solana:{MVINES}?amount=1milliondollars", "bad_amount"),  # "invalid amount"
        (f"solana:{MVINES}?amount=-0.1", "bad_amount"),
        (f"solana:{MVINES}?amount=-100", "bad_amount"),
        (f"solana:{MVINES}?amount=1&spl-token=0xffff", "bad_char"),  # "invalid token"
        (f"solana:{MVINES}?amount=1&reference=0xffff", "bad_char"),  # "invalid reference"
    ],
)
def test_reference_parser_errors(url: str, code: str) -> None:
    if url.startswith("X"):
        # parse_payload's own cap is larger; the Solana Pay limit applies to solana: URLs
        assert err("solana:" + MVINES + "?memo=" + "x" * 2040) == code
        return
    assert err(url) == code


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (".5", "bad_amount"),  # "must have a leading 0 before the ."
        ("1.", "bad_amount"),
        ("1e9", "bad_amount"),  # "Scientific notation is prohibited"
        ("0.0000000001", "amount_precision"),  # 10 decimals > SOL's 9: "reject the URL as malformed"
    ],
)
def test_amount_rules(amount: str, code: str) -> None:
    assert err(f"solana:{MVINES}?amount={amount}") == code
    assert transfer(f"solana:{MVINES}?amount=0").amount_minor == 0  # "0 is a valid value"
    assert err(f"solana:{MVINES}?amount=0.0000001&spl-token={USDC}") == "amount_precision"  # USDC has 6


def test_single_and_repeated_fields() -> None:
    assert err(f"solana:{MVINES}?amount=1&amount=1") == "duplicate_param"
    assert err(f"solana:{MVINES}?label=a&label=b") == "duplicate_param"
    t = transfer(f"solana:{MVINES}?reference={REF}&reference={MVINES}")
    assert t.references == (REF, MVINES)
    assert err("solana:11111111111111111111111111111111111") == "bad_address"  # 35 ones: not 32 bytes


def test_spec_transaction_requests() -> None:
    p = parse_payload("solana:https://example.com/solana-pay")
    assert isinstance(p, SolanaTransaction) and p.link == "https://example.com/solana-pay"
    p = parse_payload("solana:https%3A%2F%2Fexample.com%2Fsolana-pay%3Forder%3D12345")
    assert isinstance(p, SolanaTransaction) and p.link == "https://example.com/solana-pay?order=12345"
    assert payload_to_json(p)["kind"] == "solana_transaction"
    # "If the decoded value is not an absolute HTTPS URL, the wallet must reject it as malformed"
    assert err("solana:http://example.com/solana-pay") == "bad_url"
    assert err("solana:https%3A%2F%2F") == "bad_url"


def test_bare_solana_address() -> None:
    j = payload_to_json(parse_payload(MVINES))
    assert j["kind"] == "solana_transfer" and j["address"] == MVINES and j["amount"] is None


keys = st.sampled_from([MVINES, REF, USDC])


@given(
    recipient=keys,
    amount=st.none() | st.integers(min_value=0, max_value=10**15),
    asset=st.sampled_from(["SOL", "USDC", "USDT"]),
    refs=st.lists(keys, max_size=3),
    label=st.none() | st.text(max_size=20),
    message=st.none() | st.text(max_size=20),
    memo=st.none() | st.text(max_size=20),
)
def test_build_round_trip(
    recipient: str,
    amount: int | None,
    asset: str,
    refs: list[str],
    label: str | None,
    message: str | None,
    memo: str | None,
) -> None:
    url = build_solana_pay(
        recipient,
        amount_minor=amount,
        asset=asset,
        references=tuple(refs),
        label=label,
        message=message,
        memo=memo,
    )
    t = transfer(url)
    assert (t.recipient, t.amount_minor, t.asset, t.references) == (recipient, amount, asset, tuple(refs))
    assert (t.label, t.message, t.memo) == (label, message, memo)


def test_builder_matches_reference_encodeurl() -> None:
    # core/test/encodeURL.test.ts: parameter order amount, spl-token, reference..., label, message, memo
    rec, tok, r1, r2 = MVINES, USDC, REF, "11111111111111111111111111111111"
    full = build_solana_pay(
        rec,
        amount_minor=12345 * 10**6,
        spl_token=tok,
        references=(r1, r2),
        label="label",
        message="message",
        memo="memo",
    )
    assert full == (
        f"solana:{rec}?amount=12345&spl-token={tok}&reference={r1}&reference={r2}"
        "&label=label&message=message&memo=memo"
    )
    assert build_solana_pay(rec) == f"solana:{rec}"
    assert build_solana_pay(rec, amount_minor=12345 * 10**9) == f"solana:{rec}?amount=12345"
    assert build_solana_pay(rec, amount_minor=12345, spl_token=REF, decimals=0) == (
        f"solana:{rec}?amount=12345&spl-token={REF}"
    )
    assert build_solana_pay(rec, amount_minor=12345 * 10**9, references=(r1,)) == (
        f"solana:{rec}?amount=12345&reference={r1}"
    )
    for key in ("label", "message", "memo"):
        url = build_solana_pay(rec, amount_minor=12345 * 10**9, **{key: key})
        assert url == f"solana:{rec}?amount=12345&{key}={key}"


def test_amounts_beyond_a_u64_are_refused() -> None:
    # lamports and SPL token amounts are u64 on chain; more is not a payment
    recipient = "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"
    ok = parse_payload(f"solana:{recipient}?amount=18446744073.709551615")
    assert payload_to_json(ok)["amount_minor"] == str(2**64 - 1)
    for amount, mint in [
        ("18446744073.709551616", ""),
        ("999999999999999999999999999999", ""),
        (
            "18446744073709.551616",
            "&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        ),  # USDC, 6 decimals
        ("18446744073709551616", "&spl-token=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny"),  # unknown mint
    ]:
        with pytest.raises(PayloadError) as exc:
            parse_payload(f"solana:{recipient}?amount={amount}{mint}")
        assert exc.value.code == "amount_too_large", amount

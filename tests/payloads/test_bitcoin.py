"""bitcoin: URIs — every example of BIP21 and BIP321 (bitcoin/bips bip-0021.mediawiki, bip-0321.mediawiki).

The BIPs' example address 175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W fails its base58check checksum
(a placeholder, not a real address), so a terminal that validates addresses must reject those
examples with ``bad_checksum``. Each example is therefore tested twice: verbatim (rejected for the
checksum) and with a valid address in its place (accepted or rejected for the reason the BIP gives).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.payloads import PayloadError, build_bip21, parse_payload, payload_to_json
from terminal.domain.payloads.bitcoin import BitcoinUri
from terminal.domain.payloads.samples import BOLT11

BIP_ADDR = "175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W"
GOOD = "1RustyRX2oai4EYYDpQGWvEL62BBGqN9T"  # a valid P2PKH address (BOLT11's example fallback)


def btc(text: str) -> BitcoinUri:
    p = parse_payload(text)
    assert isinstance(p, BitcoinUri)
    return p


def err(text: str) -> str:
    with pytest.raises(PayloadError) as exc:
        parse_payload(text)
    return exc.value.code


# (uri with {a} for the address, expected fields or an error code) — BIP321 "Examples" / BIP21 "Examples"
VALID_EXAMPLES = [
    ("bitcoin:{a}", {}),
    ("bitcoin:{a}?label=Luke-Jr", {"label": "Luke-Jr"}),
    ("bitcoin:{a}?amount=20.3&label=Luke-Jr", {"amount_sat": 2_030_000_000, "label": "Luke-Jr"}),
    (
        "bitcoin:{a}?amount=50&label=Luke-Jr&message=Donation%20for%20project%20xyz",
        {"amount_sat": 5_000_000_000, "label": "Luke-Jr", "message": "Donation for project xyz"},
    ),
    ("bitcoin:{a}?lightning=lnbc420bogusinvoice", {"lightning": "lnbc420bogusinvoice"}),
    (
        "bitcoin:{a}?somethingyoudontunderstand=50&somethingelseyoudontget=999",
        {"extras": (("somethingyoudontunderstand", "50"), ("somethingelseyoudontget", "999"))},
    ),
    ("bitcoin:{a}?sp=sp1qsilentpayment", {"instructions": (("sp", "sp1qsilentpayment"),)}),
    ("bitcoin:{a}?pop=initiatingapp%3a", {"pop": "initiatingapp:", "pop_required": False}),
    (
        "bitcoin:{a}?lightning=lnbc420bogusinvoice&pop=app%3a%3f",
        {"pop": "app:?", "lightning": "lnbc420bogusinvoice"},
    ),
    # "the wallet should make a payment as it normally would but MUST NOT interact with" the pop URL
    ("bitcoin:{a}?pop=https%3aiwantyouripaddress.com", {"pop": "https:iwantyouripaddress.com"}),
]


@pytest.mark.parametrize(("template", "expected"), VALID_EXAMPLES)
def test_bip321_valid_examples(template: str, expected: dict[str, object]) -> None:
    assert err(template.format(a=BIP_ADDR)) == "bad_checksum"
    uri = btc(template.format(a=GOOD))
    assert uri.address is not None
    assert uri.address.address == GOOD
    assert uri.network == "mainnet"
    for field, value in expected.items():
        assert getattr(uri, field) == value, field


def test_bip321_examples_without_address() -> None:
    # BIP321's address-less examples hold placeholders ("lnbc420bogusinvoice", "lno1bogusoffer",
    # "sp1qsilentpayment"). With an address those are fallbacks (above); without one they leave
    # nothing a terminal can check or pay, so they are refused (issue 13: bitcoin:?lightning=garbage).
    assert err("bitcoin:?lightning=lnbc420bogusinvoice") == "bad_lightning_invoice"
    assert (
        err("bitcoin:?lightning=lnbc420bogusinvoice&pop=callbackuri%3abody%3fpop=") == "bad_lightning_invoice"
    )
    assert err("bitcoin:?lno=lno1bogusoffer") == "no_address"
    assert err("bitcoin:?lno=lno1bogusoffer&sp=sp1qsilentpayment") == "no_address"
    assert err("bitcoin:?sp=sp1qsilentpayment") == "no_address"
    assert err("bitcoin:?label=x") == "no_address"
    # the same URIs with a real invoice in the placeholder's place
    uri = btc(f"bitcoin:?lightning={BOLT11}")
    assert uri.address is None and uri.lightning == BOLT11 and uri.network == "mainnet"
    uri = btc(f"bitcoin:?lightning={BOLT11}&pop=callbackuri%3abody%3fpop=")
    assert uri.pop == "callbackuri:body?pop="
    assert btc(f"bitcoin:?lno=lno1bogusoffer&lightning={BOLT11}").instructions[0] == ("lno", "lno1bogusoffer")
    uri = btc(
        "bitcoin:?bc=bc1qufgy354j3kmvuch987xe4s40836x3h0lg8f5n2"
        "&bc=bc1p5swkugezn97763tl0yty6556856uug0q6jflljvep9m4p7339x5qzyrh4g"
    )
    assert [k for k, _ in uri.instructions] == ["bc", "bc"] and uri.network == "mainnet"
    assert btc("bitcoin:?tb=tb1qghfhmd4zh7ncpmxl3qzhmq566jk8ckq4gafnmg").network == "testnet"


def test_amount_beyond_supply_is_refused() -> None:
    # issue 13: amount=999999999999999999999999999999 was taken as 10^38 sat
    assert err(f"bitcoin:{GOOD}?amount=999999999999999999999999999999") == "amount_too_large"
    assert err(f"bitcoin:{GOOD}?amount=21000000.00000001") == "amount_too_large"
    assert btc(f"bitcoin:{GOOD}?amount=21000000").amount_sat == 21_000_000 * 10**8


def test_bip321_uppercase_qr_examples() -> None:
    uri = btc(
        "BITCOIN:BC1QUFGY354J3KMVUCH987XE4S40836X3H0LG8F5N2"
        "?BC=BC1P5SWKUGEZN97763TL0YTY6556856UUG0Q6JFLLJVEP9M4P7339X5QZYRH4G"
    )
    assert uri.address is not None and uri.address.address == "bc1qufgy354j3kmvuch987xe4s40836x3h0lg8f5n2"
    assert uri.instructions == (("bc", "bc1p5swkugezn97763tl0yty6556856uug0q6jflljvep9m4p7339x5qzyrh4g"),)
    uri = btc(
        "BITCOIN:?BC=BC1QUFGY354J3KMVUCH987XE4S40836X3H0LG8F5N2"
        "&BC=BC1P5SWKUGEZN97763TL0YTY6556856UUG0Q6JFLLJVEP9M4P7339X5QZYRH4G"
    )
    assert uri.address is None and len(uri.instructions) == 2


INVALID_EXAMPLES = [
    # "Some future version that has variables which are (currently) not understood and required"
    ("bitcoin:{a}?req-somethingyoudontunderstand=50&req-somethingelseyoudontget=999", "unknown_req_param"),
    ("bitcoin:{a}?label=Luke-Jr&label=Matt", "duplicate_param"),  # Labels must not appear twice
    ("bitcoin:{a}?amount=42&amount=10", "duplicate_param"),  # Amounts must not appear twice
    ("bitcoin:{a}?amount=42&amount=42", "duplicate_param"),  # ... even if they are the same
    ("bitcoin:{a}?pop=callback%3a&req-pop=callback%3a", "duplicate_param"),  # one pop, req- or not
    ("bitcoin:{a}?req-pop=https%3aevilwebsite.com", "unsafe_pop"),  # "the wallet MUST NOT make a payment"
]


@pytest.mark.parametrize(("template", "code"), INVALID_EXAMPLES)
def test_bip321_invalid_examples(template: str, code: str) -> None:
    assert err(template.format(a=BIP_ADDR)) == "bad_checksum"
    assert err(template.format(a=GOOD)) == code


def test_bip321_testnet_address_in_bc_param_is_invalid() -> None:
    # "A testnet segwit addresses must be included in the `tb` parameter, not the `bc` parameter."
    assert err("bitcoin:?bc=tb1qghfhmd4zh7ncpmxl3qzhmq566jk8ckq4gafnmg") == "wrong_network"


def test_scheme_and_keys_are_case_insensitive() -> None:
    uri = btc(f"BitCoin:{GOOD}?AMOUNT=1&Label=x&MESSAGE=y")
    assert (uri.amount_sat, uri.label, uri.message) == (100_000_000, "x", "y")
    assert err(f"bitcoin:{GOOD}?amount=1&AMOUNT=2") == "duplicate_param"
    assert err(f"bitcoin:{GOOD}?Req-Thing=1") == "unknown_req_param"


@pytest.mark.parametrize(
    ("amount", "result"),
    [
        ("50", 5_000_000_000),
        ("50.00", 5_000_000_000),
        ("0.00000001", 1),
        (".5", 50_000_000),
        ("1.", 100_000_000),
        ("20999999.99999999", 2_099_999_999_999_999),
        ("50,000.00", "bad_amount"),  # "amount=50,000.00 is invalid"
        ("50,5", "bad_amount"),
        ("0.000000001", "amount_precision"),
        ("1e3", "bad_amount"),
        ("-1", "bad_amount"),
        ("+1", "bad_amount"),
        ("", "bad_amount"),
        (".", "bad_amount"),
        ("1.2.3", "bad_amount"),
        (" 1", "bad_amount"),
    ],
)
def test_amounts(amount: str, result: int | str) -> None:
    text = f"bitcoin:{GOOD}?amount={amount}"
    if isinstance(result, int):
        assert btc(text).amount_sat == result
    else:
        assert err(text) == result


def test_percent_decoding_and_errors() -> None:
    assert btc(f"bitcoin:{GOOD}?label=Caf%C3%A9+Bar").label == "Café+Bar"  # '+' is not a space in RFC 3986
    assert err(f"bitcoin:{GOOD}?label=%ZZ") == "bad_encoding"
    assert err(f"bitcoin:{GOOD}?label=%C3") == "bad_encoding"


def test_address_and_network_rules() -> None:
    assert err("bitcoin:") == "no_address"
    assert err("bitcoin:?label=x") == "no_address"
    assert err(f"bitcoin://{GOOD}") == "bad_address"
    assert err("bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5") == "bad_checksum"
    assert err("bitcoin:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7Kv8f3t4") == "mixed_case"
    # a mainnet address with a testnet fallback is a contradiction
    assert err(f"bitcoin:{GOOD}?tb=tb1qghfhmd4zh7ncpmxl3qzhmq566jk8ckq4gafnmg") == "wrong_network"
    assert err(f"bitcoin:{GOOD}?lightning=lntb1bogus") == "wrong_network"
    assert btc("bitcoin:mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP").network == "testnet"


def test_bare_address_is_a_bitcoin_payload() -> None:
    p = payload_to_json(parse_payload("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"))
    assert p["kind"] == "bitcoin"
    assert p["address"] == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert p["amount"] is None
    assert err("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5") == "bad_checksum"


def test_json_shape() -> None:
    j = payload_to_json(parse_payload(f"bitcoin:{GOOD}?amount=0.0001&label=Shop"))
    assert j["kind"] == "bitcoin" and j["asset"] == "BTC" and j["network"] == "mainnet"
    assert (j["amount"], j["amount_minor"]) == ("0.0001", "10000")
    assert j["label"] == "Shop" and j["address_type"] == "p2pkh"


ADDRESSES = [
    GOOD,
    "3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
]


@given(
    address=st.sampled_from(ADDRESSES),
    amount=st.none() | st.integers(min_value=0, max_value=21_000_000 * 10**8),
    label=st.none() | st.text(max_size=30),
    message=st.none() | st.text(max_size=30),
    uppercase=st.booleans(),
)
def test_build_bip21_round_trips(
    address: str, amount: int | None, label: str | None, message: str | None, uppercase: bool
) -> None:
    text = build_bip21(address, amount_sat=amount, label=label, message=message, uppercase=uppercase)
    uri = btc(text)
    assert uri.address is not None and uri.address.address == address
    assert (uri.amount_sat, uri.label, uri.message) == (amount, label, message)


def test_build_bip21_with_lightning_only() -> None:
    text = build_bip21(None, amount_sat=250_000, lightning=BOLT11)
    assert text == f"bitcoin:?amount=0.0025&lightning={BOLT11}"
    assert btc(text).lightning == BOLT11
    with pytest.raises(PayloadError):
        build_bip21(None)
    # with no address to fall back on, the invoice must be a real one
    with pytest.raises(PayloadError) as exc:
        build_bip21(None, amount_sat=1000, lightning="lnbc10u1bogus")
    assert exc.value.code == "bad_lightning_invoice"


def test_lightning_parameter_decoded_when_valid() -> None:
    from terminal.domain.payloads.samples import BOLT11

    j = payload_to_json(parse_payload(f"bitcoin:{GOOD}?amount=0.0025&lightning={BOLT11.upper()}"))
    assert j["lightning_invoice"]["amount_minor"] == "250000000"
    assert (
        j["lightning_invoice"]["payment_hash"]
        == "00010203040506070809000102030405060708090001020304050607080901" + "02"
    )
    assert (
        payload_to_json(parse_payload(f"bitcoin:{GOOD}?lightning=lnbc420bogusinvoice"))["lightning_invoice"]
        is None
    )

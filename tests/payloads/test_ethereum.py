"""EIP-681 ethereum: URIs and EIP-55 checksums.

Sources: ethereum/EIPs EIPS/eip-681.md (its two examples) and EIPS/eip-55.md (test cases).
EIP-681's first example writes 0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359 in mixed case that
does NOT match EIP-55 (the checksummed form is 0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359), so a
terminal enforcing EIP-55 must reject it verbatim; the same request with a valid form parses.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.domain.payloads import (
    EthereumRequest,
    PayloadError,
    build_eip681,
    parse_payload,
    payload_to_json,
)
from terminal.domain.payloads.ethereum import checksum_address, parse_eth_address, parse_number


def eth(text: str) -> EthereumRequest:
    p = parse_payload(text)
    assert isinstance(p, EthereumRequest)
    return p


def err(text: str) -> str:
    with pytest.raises(PayloadError) as exc:
        parse_payload(text)
    return exc.value.code


# EIP-55 "Test Cases": all caps, all lower, and normal (checksummed) addresses
EIP55_CHECKSUMMED = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
EIP55_SINGLE_CASE = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
]


@pytest.mark.parametrize("address", EIP55_CHECKSUMMED)
def test_eip55_checksummed(address: str) -> None:
    assert checksum_address(address.lower()) == address
    assert parse_eth_address(address) == address
    # flip the case of one letter: the checksum catches it
    i = next(i for i, c in enumerate(address[2:], 2) if c.isalpha())
    flipped = address[:i] + address[i].swapcase() + address[i + 1 :]
    with pytest.raises(PayloadError) as exc:
        parse_eth_address(flipped)
    assert exc.value.code == "bad_checksum"


@pytest.mark.parametrize("address", EIP55_SINGLE_CASE)
def test_eip55_single_case_is_not_checked(address: str) -> None:
    assert parse_eth_address(address) == checksum_address(address)


def test_eip681_native_example() -> None:
    # "requesting 2.014 ETH to address 0xfb69..." — verbatim the mixed case fails EIP-55
    assert err("ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=2.014e18") == "bad_checksum"
    for addr in ("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"):
        req = eth(f"ethereum:{addr}?value=2.014e18")
        assert req.value_wei == 2_014_000_000_000_000_000
        assert req.target == "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
        j = payload_to_json(req)
        assert (j["asset"], j["amount"], j["amount_minor"]) == ("ETH", "2.014", "2014000000000000000")


def test_eip681_erc20_example() -> None:
    # "requesting a Unicorn to address 0x8e23ee67d1332ad560396262c48ffbb01f93d052"
    req = eth(
        "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/transfer"
        "?address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=1"
    )
    assert req.function == "transfer"
    assert req.target.lower() == "0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7"
    assert req.recipient is not None and req.recipient.lower() == "0x8e23ee67d1332ad560396262c48ffbb01f93d052"
    assert req.token_amount == 1
    j = payload_to_json(req)
    # an unknown token: the base-unit amount is known, its decimals (hence the amount) are not
    assert (j["asset"], j["amount"], j["amount_minor"]) == (None, None, "1")
    assert j["token"] == req.target and j["address"] == req.recipient


def test_known_token_chain_pay_prefix_and_gas() -> None:
    req = eth(
        "ethereum:pay-0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48@1/transfer"
        "?address=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed&uint256=12.5e6&gas=60000"
    )
    assert req.pay_prefix and req.chain_id == 1 and req.gas_limit == 60000
    j = payload_to_json(req)
    assert (j["asset"], j["amount"], j["amount_minor"], j["network"]) == (
        "USDC",
        "12.5",
        "12500000",
        "mainnet",
    )
    assert eth("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed@11155111?value=1e15").chain_id == 11155111


def test_ens_names() -> None:
    req = eth("ethereum:my-shop.eth?value=1e18")
    assert req.is_ens and req.target == "my-shop.eth"
    assert eth("ethereum:pay-alice.eth@1?value=0").value_wei == 0
    assert err("ethereum:not an address") == "bad_address"


@pytest.mark.parametrize(
    ("number", "result"),
    [
        ("2.014e18", 2_014_000_000_000_000_000),
        ("1e18", 10**18),
        ("1E3", 1000),
        ("+5", 5),
        ("-0", 0),
        ("1e", 1),  # the grammar allows an exponent marker without digits
        ("0.5e1", 5),
        ("100", 100),
        ("1.5", "amount_precision"),  # a fractional wei
        ("1.23e1", "amount_precision"),
        ("-1", "bad_amount"),
        ("-1e18", "bad_amount"),
        ("abc", "bad_amount"),
        ("", "bad_amount"),
        ("1e-3", "bad_amount"),
        ("0x10", "bad_amount"),
        ("1e1000", "amount_too_large"),
        ("1e78", "amount_too_large"),  # issue 13: 10^78 wei was accepted
        (str(2**256), "amount_too_large"),
        (str(2**256 - 1), 2**256 - 1),
    ],
)
def test_numbers(number: str, result: int | str) -> None:
    if isinstance(result, int):
        assert parse_number(number, what="value") == result
        assert eth(f"ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed?value={number}").value_wei == result
    else:
        with pytest.raises(PayloadError) as exc:
            parse_number(number, what="value")
        assert exc.value.code == result


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("ethereum:", "bad_address"),
        ("ethereum:0x123", "bad_address"),
        ("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed@x1", "bad_field"),
        ("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed?value=1&value=2", "duplicate_param"),
        ("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed?gas=1&gasLimit=2", "duplicate_param"),
        ("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed/transfer?uint256=1", "missing_field"),
        ("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed/tr%20ansfer", "bad_field"),
        ("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed/transfer?address=0x1&uint256=1", "bad_address"),
    ],
)
def test_invalid(uri: str, code: str) -> None:
    assert err(uri) == code


def test_bare_address() -> None:
    j = payload_to_json(parse_payload("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"))
    assert j["kind"] == "ethereum" and j["address"] == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert err("0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed") == "bad_checksum"


ADDRS = EIP55_CHECKSUMMED


@given(
    to=st.sampled_from(ADDRS),
    amount=st.none() | st.integers(min_value=0, max_value=10**30),
    chain=st.none() | st.sampled_from([1, 10, 8453, 11155111]),
)
def test_build_native_round_trip(to: str, amount: int | None, chain: int | None) -> None:
    req = eth(build_eip681(to, amount_minor=amount, chain_id=chain))
    assert (req.target, req.value_wei, req.chain_id, req.function) == (to, amount, chain, None)


@given(
    to=st.sampled_from(ADDRS),
    amount=st.integers(min_value=0, max_value=10**20),
    token=st.sampled_from(["USDC", "USDT", "0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7"]),
)
def test_build_erc20_round_trip(to: str, amount: int, token: str) -> None:
    req = eth(build_eip681(to, amount_minor=amount, token=token))
    assert (req.function, req.recipient, req.token_amount) == ("transfer", to, amount)
    if token in ("USDC", "USDT"):
        assert req.asset == token


def test_a_0x_target_is_an_address_and_a_name_is_a_name() -> None:
    # issue 13: "ethereum:0x12.eth" was accepted with ens: false and a non-address as the address
    assert err("ethereum:0x12.eth") == "bad_address"
    assert err("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed.eth") == "bad_address"
    assert err("ethereum:0Xshop.eth?value=1") == "bad_address"
    j = payload_to_json(eth("ethereum:shop0x.eth?value=1"))
    assert j["ens"] is True and j["target"] == "shop0x.eth"
    # a name must read as what it is: one alphabet per label, no invisible characters, lower case
    assert err("ethereum:my-sh\u043ep.eth?value=1") == "lookalike_host"  # Cyrillic о among Latin
    assert err("ethereum:my\u200bshop.eth?value=1") == "bad_address"  # zero-width space
    assert err("ethereum:MyShop.eth?value=1") == "bad_address"
    assert err("ethereum:my-shop.e\uff41h?value=1") == "bad_address"  # fullwidth ａ (found by the fuzzer)
    assert err("ethereum:cafe\u0301.eth?value=1") == "bad_address"  # decomposed é: not NFC
    assert eth("ethereum:caf\u00e9.eth?value=1").target == "caf\u00e9.eth"
    assert eth("ethereum:\u043c\u0430\u0433\u0430\u0437\u0438\u043d.eth?value=1").is_ens  # all Cyrillic


def test_erc20_recipient_is_called_the_recipient() -> None:
    # issue 12/13: the address= recipient failing EIP-55 was reported as the "target"
    with pytest.raises(PayloadError) as exc:
        parse_payload(
            "ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48/transfer"
            "?address=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD&uint256=1"
        )
    assert exc.value.code == "bad_checksum"
    assert "recipient" in exc.value.message and "target" not in exc.value.message
    with pytest.raises(PayloadError) as exc:
        parse_payload("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD?value=1")
    assert "target" in exc.value.message


@pytest.mark.parametrize("param", ["value", "gas", "gasPrice"])
def test_uint256_cap_on_every_number(param: str) -> None:
    base = "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert err(f"{base}?{param}=1e78") == "amount_too_large"
    assert err(f"{base}?{param}={2**256}") == "amount_too_large"
    assert (
        err(f"ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48/transfer?address={ADDRS[0]}&uint256=2e77")
        == "amount_too_large"
    )

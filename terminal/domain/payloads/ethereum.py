"""Ethereum payment requests (EIP-681) and EIP-55 mixed-case address checksums.

``ethereum:[pay-]TARGET[@CHAIN_ID][/FUNCTION][?PARAMS]`` where TARGET is ``0x`` + 40 hex
digits or an ENS name. Native payments carry ``value`` in wei; ERC-20 payments call
``/transfer?address=RECIPIENT&uint256=AMOUNT`` on the token contract. Numbers may use
scientific notation (``2.014e18``) but must come out as whole integers: a fractional wei is
rejected, as are negative amounts. A hex address in mixed case must pass EIP-55.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from terminal.domain.payloads._host import check_ens_name
from terminal.domain.payloads._numbers import UINT256_MAX, check_cap, format_minor
from terminal.domain.payloads._uri import pct_decode, pct_encode, split_query
from terminal.domain.payloads.errors import PayloadError
from terminal.domain.payloads.keccak import keccak256

__all__ = ["EthereumRequest", "build_eip681", "checksum_address", "parse_eip681", "parse_eth_address"]

_HEX_ADDR = re.compile(r"0x[0-9a-fA-F]{40}")
_NUMBER = re.compile(r"([-+]?)(\d*)(?:\.(\d+))?(?:[eE](\d*))?", re.ASCII)
_ENS = re.compile(r"(?:[^\s./?@#&=%:]+\.)+[^\s./?@#&=%:]+")
_MAX_EXP = 100  # bounds the integer we build before the uint256 cap refuses it
CHAINS = {
    1: "mainnet",
    10: "optimism",
    137: "polygon",
    8453: "base",
    42161: "arbitrum",
    11155111: "sepolia",
    17000: "holesky",
}
_ETH_NATIVE = {None, 1, 10, 8453, 42161, 11155111, 17000}
# Well-known ERC-20 contracts on Ethereum mainnet (lower-case) -> (asset, decimals)
TOKENS = {
    "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48": ("USDC", 6),
    "0xdac17f958d2ee523a2206206994597c13d831ec7": ("USDT", 6),
}
TOKEN_BY_ASSET = {asset: addr for addr, (asset, _) in TOKENS.items()}


def checksum_address(address: str) -> str:
    """The EIP-55 form of a ``0x`` + 40-hex address."""
    hexpart = address[2:].lower()
    digest = keccak256(hexpart.encode()).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hexpart))


def parse_eth_address(text: str, *, what: str = "ethereum address") -> str:
    """Validate a hex address; returns the EIP-55 form. Mixed case must match its checksum."""
    if not _HEX_ADDR.fullmatch(text):
        raise PayloadError("bad_address", f"{what} is not 0x followed by 40 hex digits")
    body = text[2:]
    if body != body.lower() and body != body.upper():
        good = checksum_address(text)
        if good != text:
            raise PayloadError(
                "bad_checksum", f"{what} fails its EIP-55 checksum (a typo or a tampered code)"
            )
        return good
    return checksum_address(text)


def parse_number(text: str, *, what: str) -> int:
    """EIP-681 ``number``: optional sign, decimals, exponent; a whole integer in ``uint256``."""
    m = _NUMBER.fullmatch(text)
    if m is None or not (m[2] or m[3]):
        raise PayloadError("bad_amount", f"{what} {text!r} is not a number")
    sign, whole, frac, exp = m[1], m[2], m[3] or "", m[4]
    if sign == "-" and (whole.strip("0") or frac.strip("0")):
        raise PayloadError("bad_amount", f"{what} cannot be negative")
    if len(whole) + len(frac) > _MAX_EXP or len(exp or "") > 4:
        raise PayloadError("amount_too_large", f"{what} has more digits than any uint256 amount")
    e = int(exp) if exp else 0  # "1e" (exponent without digits) is allowed by the grammar: e0
    if e > _MAX_EXP:
        raise PayloadError("amount_too_large", f"{what} exponent {e} is beyond any uint256 amount")
    digits = frac.rstrip("0")
    if len(digits) > e:
        raise PayloadError(
            "amount_precision", f"{what} {text!r} is not a whole number of the smallest unit (fractional wei)"
        )
    scale: int = 10 ** (e - len(digits))
    n = int((whole + digits) or "0") * scale
    return check_cap(n, UINT256_MAX, what=f"{what} {text!r}", why="the largest uint256 (2^256 - 1)")


def format_number(n: int) -> str:
    """Shortest exact form: scientific notation when shorter (``2014000000000000000`` -> ``2.014e18``)."""
    plain = str(n)
    stripped = plain.rstrip("0")
    zeros = len(plain) - len(stripped)
    if n == 0 or zeros < 3:
        return plain
    mantissa = stripped[0] + ("." + stripped[1:] if len(stripped) > 1 else "")
    sci = f"{mantissa}e{zeros + len(stripped) - 1}"
    return sci if len(sci) < len(plain) else plain


@dataclass(frozen=True, slots=True)
class EthereumRequest:
    kind = "ethereum"

    target: str  # EIP-55 address or ENS name: payee (native) or contract (function call)
    chain_id: int | None = None
    function: str | None = None
    value_wei: int | None = None
    recipient: str | None = None  # transfer's `address`
    token_amount: int | None = None  # transfer's `uint256`, in the token's base units
    gas_limit: int | None = None
    gas_price: int | None = None
    pay_prefix: bool = False
    params: tuple[tuple[str, str], ...] = ()  # every parameter, decoded, in URI order

    @property
    def is_ens(self) -> bool:
        return not self.target.startswith("0x")

    @property
    def asset(self) -> str | None:
        if self.function is None:
            return "ETH" if self.chain_id in _ETH_NATIVE else None
        if self.function == "transfer" and self.chain_id in (None, 1):
            token = TOKENS.get(self.target.lower())
            return token[0] if token else None
        return None

    @property
    def amount_minor(self) -> int | None:
        return self.value_wei if self.function is None else self.token_amount

    def to_json(self) -> dict[str, Any]:
        asset = self.asset
        minor = self.amount_minor
        decimals = 18 if asset == "ETH" else TOKENS.get(self.target.lower(), ("", 0))[1]
        return {
            "network": CHAINS.get(self.chain_id, f"chain-{self.chain_id}") if self.chain_id else None,
            "asset": asset,
            "amount": None if minor is None or asset is None else format_minor(minor, decimals),
            "amount_minor": None if minor is None else str(minor),
            "address": self.recipient if self.function == "transfer" else self.target,
            "target": self.target,
            "ens": self.is_ens,
            "chain_id": self.chain_id,
            "function": self.function,
            "token": self.target if self.function == "transfer" else None,
            "gas_limit": self.gas_limit,
            "gas_price": self.gas_price,
            "params": dict(self.params),
        }


def _target(text: str, *, what: str) -> str:
    """A ``0x`` + 40-hex address (EIP-55 when mixed case) or an ENS name; nothing in between.

    Anything starting ``0x`` is read as an address: ``0x12.eth`` is a broken address, not a
    name, so that a screen never shows a "name" that looks like an address.
    """
    if text[:2].lower() == "0x":
        return parse_eth_address(text, what=f"{what} address")
    if not _ENS.fullmatch(text):
        raise PayloadError("bad_address", f"the {what} {text[:60]!r} is neither a 0x address nor an ENS name")
    return check_ens_name(text, what=f"the {what} name")


def parse_eip681(text: str) -> EthereumRequest:
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() != "ethereum":
        raise PayloadError("unsupported_scheme", "not an ethereum: URI")
    pay = rest[:4].lower() == "pay-"
    if pay:
        rest = rest[4:]
    path, _, query = rest.partition("?")
    path, _, function = path.partition("/")
    target_text, at, chain = path.partition("@")
    if not target_text:
        raise PayloadError("bad_address", "ethereum: URI without a target address")
    target = _target(pct_decode(target_text, what="target"), what="target")
    chain_id = None
    if at:
        if not chain.isdigit() or not chain.isascii() or len(chain) > 20:
            raise PayloadError("bad_field", f"chain id {chain!r} is not a decimal number")
        chain_id = int(chain)
    fn = pct_decode(function, what="function name") if function else None
    if function and not re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", fn or ""):
        raise PayloadError("bad_field", f"{fn!r} is not a function name")

    seen: set[str] = set()
    fields: dict[str, Any] = {}
    params: list[tuple[str, str]] = []
    for raw_key, raw_value in split_query(query):
        key = pct_decode(raw_key, what="parameter name")
        value = pct_decode(raw_value, what=f"parameter {key!r}")
        params.append((key, value))
        if key in seen and key in ("value", "gas", "gasLimit", "gasPrice", "address", "uint256"):
            raise PayloadError("duplicate_param", f"{key!r} appears more than once")
        seen.add(key)
        if key == "value":
            fields["value_wei"] = parse_number(value, what="value")
        elif key in ("gas", "gasLimit"):
            if "gas_limit" in fields:
                raise PayloadError("duplicate_param", "gas and gasLimit are the same parameter")
            fields["gas_limit"] = parse_number(value, what=key)
        elif key == "gasPrice":
            fields["gas_price"] = parse_number(value, what=key)
        elif fn == "transfer" and key == "address":
            fields["recipient"] = _target(value, what="recipient")
        elif fn == "transfer" and key == "uint256":
            fields["token_amount"] = parse_number(value, what="uint256")
    if fn == "transfer" and "recipient" not in fields:
        raise PayloadError("missing_field", "an ERC-20 transfer needs an address= parameter")
    return EthereumRequest(
        target=target, chain_id=chain_id, function=fn, pay_prefix=pay, params=tuple(params), **fields
    )


def build_eip681(
    recipient: str,
    *,
    amount_minor: int | None = None,
    chain_id: int | None = None,
    token: str | None = None,
) -> str:
    """Native payment (``token=None``, amount in wei) or ERC-20 transfer (``token`` = contract
    address or a known asset code ``USDC``/``USDT``, amount in base units)."""
    to = _target(recipient, what="recipient")
    if amount_minor is not None and amount_minor < 0:
        raise PayloadError("bad_amount", "amount cannot be negative")
    if amount_minor is not None:
        check_cap(amount_minor, UINT256_MAX, what="the amount", why="the largest uint256")
    chain = f"@{chain_id}" if chain_id is not None else ""
    if token is None:
        query = f"?value={format_number(amount_minor)}" if amount_minor is not None else ""
        return f"ethereum:{to}{chain}{query}"
    contract = parse_eth_address(TOKEN_BY_ASSET.get(token.upper(), token), what="token contract")
    query = f"address={pct_encode(to)}"
    if amount_minor is not None:
        query += f"&uint256={format_number(amount_minor)}"
    return f"ethereum:{contract}{chain}/transfer?{query}"

"""Bitcoin payment URIs: BIP21 and its successor BIP321, parsed and built.

Rules applied (BIP321): the ``bitcoin:`` scheme and the query keys are case-insensitive;
the address may be empty when at least one payment instruction is given (``lightning``,
``lno``, ``sp``, ``pay``, or a segwit address under its HRP key ``bc``/``tb``/``bcrt``);
``amount`` is decimal BTC with a point, no commas, at most 8 decimals; ``label``,
``message``, ``amount`` and ``pop`` may not repeat; an unknown ``req-`` key makes the
whole URI invalid; a required proof-of-payment callback that would open a browser
(``req-pop=https:...``) makes it unpayable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terminal.domain.payloads._numbers import BTC_MAX_SAT, check_cap, format_minor, parse_decimal
from terminal.domain.payloads._uri import pct_decode, pct_encode, split_query
from terminal.domain.payloads.addresses import (
    SEGWIT_HRPS,
    BitcoinAddress,
    decode_segwit,
    parse_bitcoin_address,
)
from terminal.domain.payloads.errors import PayloadError

__all__ = ["BitcoinUri", "build_bip21", "parse_bitcoin_uri"]

_INSTRUCTION_KEYS = ("lightning", "lno", "sp", "pay", *SEGWIT_HRPS)
_SINGLE_KEYS = ("amount", "label", "message")
_BROWSER_SCHEMES = ("http", "https", "file", "javascript", "mailto", "ftp", "data", "blob")
# Lightning invoice prefixes -> bitcoin network, longest first so lnbcrt wins over lnbc.
_LN_NETWORKS = (("lnbcrt", "regtest"), ("lntbs", "signet"), ("lntb", "testnet"), ("lnbc", "mainnet"))


@dataclass(frozen=True, slots=True)
class BitcoinUri:
    kind = "bitcoin"

    address: BitcoinAddress | None
    network: str | None
    amount_sat: int | None = None
    label: str | None = None
    message: str | None = None
    # payment instructions in URI order: (key, value), e.g. ("lightning", "lnbc..."), ("sp", "sp1...")
    instructions: tuple[tuple[str, str], ...] = ()
    pop: str | None = None
    pop_required: bool = False
    # unknown optional parameters, kept verbatim (decoded) in URI order
    extras: tuple[tuple[str, str], ...] = ()

    @property
    def lightning(self) -> str | None:
        return next((v for k, v in self.instructions if k == "lightning"), None)

    def _lightning_json(self) -> dict[str, Any] | None:
        """The ``lightning=`` invoice decoded when it is valid BOLT11 (BIP321 lets it be anything)."""
        if self.lightning is None:
            return None
        from terminal.domain.payloads.bolt11 import decode_bolt11  # coincurve: only for a lightning=

        try:
            return decode_bolt11(self.lightning).to_json()
        except PayloadError:
            return None

    def to_json(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "asset": "BTC",
            "amount": None if self.amount_sat is None else format_minor(self.amount_sat, 8),
            "amount_minor": None if self.amount_sat is None else str(self.amount_sat),
            "address": self.address.address if self.address else None,
            "address_type": self.address.kind if self.address else None,
            "label": self.label,
            "message": self.message,
            "lightning": self.lightning,
            "lightning_invoice": self._lightning_json(),
            "instructions": [{"key": k, "value": v} for k, v in self.instructions],
            "pop": self.pop,
            "pop_required": self.pop_required,
            "extras": dict(self.extras),
        }


def _pop_scheme(uri: str) -> str:
    scheme, sep, _ = uri.partition(":")
    return scheme.lower() if sep else ""


def _ln_network(invoice: str) -> str | None:
    low = invoice.lower()
    return next((net for prefix, net in _LN_NETWORKS if low.startswith(prefix)), None)


def _check_addressless(instructions: list[tuple[str, str]]) -> None:
    """Without an address, something this terminal can check must say where the money goes.

    BIP321 lets ``lightning=`` be anything (its examples use ``lnbc420bogusinvoice``) because
    the address is the fallback; with no address a garbage invoice leaves nothing to pay.
    """
    if not instructions:
        raise PayloadError("no_address", "the bitcoin: URI has no address and no payment instruction")
    for key, value in instructions:
        if key == "lightning":
            from terminal.domain.payloads.bolt11 import decode_bolt11

            try:
                decode_bolt11(value)
            except PayloadError as exc:
                raise PayloadError(
                    "bad_lightning_invoice",
                    f"the URI has no address and its lightning invoice is not valid ({exc.message})",
                ) from None
    if not any(key == "lightning" or key in SEGWIT_HRPS for key, _ in instructions):
        keys = ", ".join(sorted({k for k, _ in instructions}))
        raise PayloadError(
            "no_address",
            f"the bitcoin: URI has no address, only {keys}, which this terminal cannot check or pay",
        )


def parse_bitcoin_uri(text: str) -> BitcoinUri:
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() != "bitcoin":
        raise PayloadError("unsupported_scheme", "not a bitcoin: URI")
    rest, _, _fragment = rest.partition("#")
    path, _, query = rest.partition("?")
    if path.startswith("//"):
        raise PayloadError(
            "bad_address", "bitcoin URIs take no '//' (bitcoin:ADDRESS, not bitcoin://ADDRESS)"
        )
    address = parse_bitcoin_address(pct_decode(path, what="address")) if path else None

    amount: int | None = None
    single: dict[str, str] = {}
    pop: str | None = None
    pop_required = False
    instructions: list[tuple[str, str]] = []
    extras: list[tuple[str, str]] = []
    networks: set[str] = {address.network} if address else set()

    for raw_key, raw_value in split_query(query):
        key = pct_decode(raw_key, what="parameter name").lower()
        value = pct_decode(raw_value, what=f"parameter {key!r}")
        if key in _SINGLE_KEYS:
            if key in single:
                raise PayloadError("duplicate_param", f"{key!r} appears more than once")
            single[key] = value
            if key == "amount":
                amount = check_cap(
                    parse_decimal(value, 8, what="amount", unit="BTC"),
                    BTC_MAX_SAT,
                    what=f"amount {value} BTC",
                    why="all the bitcoin there will ever be (21,000,000 BTC)",
                )
        elif key in ("pop", "req-pop"):
            if pop is not None:
                raise PayloadError("duplicate_param", "only one proof-of-payment (pop/req-pop) is allowed")
            pop, pop_required = value, key == "req-pop"
            if pop_required and _pop_scheme(value) in _BROWSER_SCHEMES:
                raise PayloadError(
                    "unsafe_pop",
                    f"the URI requires a payment callback that opens {_pop_scheme(value)!r}; must not pay",
                )
        elif key in _INSTRUCTION_KEYS:
            if key in SEGWIT_HRPS:
                hrp, _, _ = decode_segwit(value)
                if hrp != key:
                    raise PayloadError(
                        "wrong_network", f"the {key!r} parameter holds a {hrp!r} address ({SEGWIT_HRPS[hrp]})"
                    )
                networks.add(SEGWIT_HRPS[key])
                value = value.lower()
            elif key == "lightning" and (net := _ln_network(value)) is not None:
                networks.add(net)
            instructions.append((key, value))
        elif key.startswith("req-"):
            raise PayloadError("unknown_req_param", f"required parameter {key!r} is not understood")
        else:
            extras.append((key, value))

    if address is None:
        _check_addressless(instructions)
    # signet shares testnet's address prefixes
    norm = {"testnet" if n == "signet" else n for n in networks}
    if len(norm) > 1:
        raise PayloadError("wrong_network", f"the URI mixes networks: {', '.join(sorted(networks))}")
    network = address.network if address else (min(networks) if networks else None)
    return BitcoinUri(
        address=address,
        network=network,
        amount_sat=amount,
        label=single.get("label"),
        message=single.get("message"),
        instructions=tuple(instructions),
        pop=pop,
        pop_required=pop_required,
        extras=tuple(extras),
    )


def build_bip21(
    address: str | None,
    *,
    amount_sat: int | None = None,
    label: str | None = None,
    message: str | None = None,
    lightning: str | None = None,
    uppercase: bool = False,
) -> str:
    """A ``bitcoin:`` URI for a merchant-presented invoice.

    ``uppercase`` upper-cases scheme, a bech32 address and keys (BIP321 allows it) so the
    QR code can use the denser alphanumeric mode; values with lower-case text stay as they are.
    """
    if address is None and lightning is None:
        raise PayloadError("bad_address", "a bitcoin: URI needs an address or a lightning invoice")
    addr = parse_bitcoin_address(address) if address else None
    if addr is None and lightning is not None:
        _check_addressless([("lightning", lightning)])
    if amount_sat is not None and amount_sat < 0:
        raise PayloadError("bad_amount", "amount cannot be negative")
    if amount_sat is not None:
        check_cap(amount_sat, BTC_MAX_SAT, what="the amount", why="21,000,000 BTC")
    params: list[tuple[str, str]] = []
    if amount_sat is not None:
        params.append(("amount", format_minor(amount_sat, 8)))
    if label is not None:
        params.append(("label", pct_encode(label)))
    if message is not None:
        params.append(("message", pct_encode(message)))
    if lightning is not None:
        params.append(("lightning", lightning.upper() if uppercase else lightning))
    addr_text = addr.address if addr else ""
    scheme = "bitcoin"
    if uppercase:
        scheme = "BITCOIN"
        if addr is not None and addr.witness_version is not None:
            addr_text = addr_text.upper()
        params = [(k.upper(), v) for k, v in params]
    query = "&".join(f"{k}={v}" for k, v in params)
    return f"{scheme}:{addr_text}" + (f"?{query}" if query else "")

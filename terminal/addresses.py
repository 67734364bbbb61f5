"""Checking a refund destination a customer showed (an address or a payment URI) against the asset.

The parsing and checksums are :mod:`terminal.domain.payloads` (BIP21/BIP321 and base58check /
bech32 / bech32m addresses, EIP-681 with EIP-55 checksums, Solana Pay, BOLT11, LNURL); this module
decides which of them can receive a refund in which asset, and on which network.

Errors::

    AddressError (ValueError)       the destination is not valid for the asset; the message says why
"""

from __future__ import annotations

import re

from terminal.domain.money import Asset
from terminal.domain.payloads import (
    BitcoinUri,
    Bolt11Invoice,
    EthereumRequest,
    Lnurl,
    PayloadError,
    SolanaTransfer,
    parse_bitcoin_address,
    parse_payload,
)
from terminal.domain.payloads.ethereum import parse_eth_address
from terminal.domain.payloads.solana import parse_solana_pubkey


class AddressError(ValueError):
    pass


# the URI scheme each network's refund may come as
SCHEMES = {"bitcoin": "bitcoin", "lightning": "lightning", "ethereum": "ethereum", "solana": "solana"}
_LIGHTNING_ADDRESS = re.compile(r"^[a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]{2,}$")


def refund_destination(text: str, crypto: Asset) -> str:
    """The address (or Lightning invoice / LNURL) to refund to; raises AddressError."""
    raw = text.strip()
    if not raw:
        raise AddressError("no refund address given")
    try:
        return _destination(raw, crypto)
    except PayloadError as exc:
        raise AddressError(exc.message) from None


def _destination(raw: str, crypto: Asset) -> str:
    scheme, sep, _ = raw.partition(":")
    scheme = scheme.lower() if sep else ""
    if scheme in SCHEMES and SCHEMES[scheme] != crypto.network:
        raise AddressError(f"a {scheme}: URI cannot receive a {crypto.code} refund")
    if crypto.network == "bitcoin":
        if scheme == "bitcoin":
            uri = parse_payload(raw)
            if not isinstance(uri, BitcoinUri) or uri.address is None:
                raise AddressError("the bitcoin: URI names no on-chain address to refund to")
            addr = uri.address
        else:
            addr = parse_bitcoin_address(raw)
        if addr.network != "mainnet":
            raise AddressError(
                f"a {addr.network} address is for a test network; this terminal refunds on mainnet"
            )
        return addr.address
    if crypto.network == "ethereum":
        if scheme == "ethereum":
            req = parse_payload(raw)
            if not isinstance(req, EthereumRequest):
                raise AddressError("not an ethereum: payment request")
            if req.chain_id not in (None, 1):
                raise AddressError(
                    f"the request is for chain {req.chain_id}; this terminal refunds on mainnet (1)"
                )
            target = req.recipient if req.function == "transfer" and req.recipient else req.target
            return parse_eth_address(target)
        return parse_eth_address(raw)
    if crypto.network == "solana":
        if scheme == "solana":
            tr = parse_payload(raw)
            if not isinstance(tr, SolanaTransfer):
                raise AddressError("the solana: link is a transaction request, not an address to refund to")
            return tr.recipient
        return parse_solana_pubkey(raw, what="the Solana address")
    if crypto.network == "lightning":
        if _LIGHTNING_ADDRESS.match(raw.lower()):
            return raw.lower()
        found = parse_payload(raw)
        if isinstance(found, Bolt11Invoice):
            if found.network != "mainnet":
                raise AddressError("the invoice is for a test network; this terminal refunds on mainnet")
            return found.invoice
        if isinstance(found, Lnurl):
            return found.original
        raise AddressError("a Lightning refund needs a BOLT11 invoice, an LNURL or a lightning address")
    raise AddressError(f"refunds in {crypto.code} are not supported")

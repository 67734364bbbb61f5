"""Solana Pay (specification 1.1): transfer requests and transaction requests.

Transfer: ``solana:<recipient>?amount=&spl-token=&reference=&label=&message=&memo=``; the
recipient and every reference are base58 32-byte keys; ``amount`` is in user units (SOL, not
lamports), a plain decimal with a leading digit, no scientific notation, and no more decimals
than the mint has (SOL 9, USDC/USDT 6; an unknown mint's decimals cannot be checked here, so
its amount stays a decimal string). Single-valued fields may not repeat; ``reference`` may.

Transaction: ``solana:<link>`` where the link, URL-decoded, is an absolute https URL.

A Solana Pay URL longer than 2048 characters is rejected, as the reference parser does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from terminal.domain.payloads._host import check_url_host
from terminal.domain.payloads._numbers import U64_MAX, check_cap, format_minor, parse_decimal
from terminal.domain.payloads._uri import pct_decode, pct_encode, safe_urlsplit, split_query
from terminal.domain.payloads.addresses import b58decode, b58encode
from terminal.domain.payloads.errors import PayloadError

__all__ = [
    "MAX_URL_LENGTH",
    "SolanaTransaction",
    "SolanaTransfer",
    "build_solana_pay",
    "parse_solana_pay",
    "parse_solana_pubkey",
]

MAX_URL_LENGTH = 2048
SOL_DECIMALS = 9
# mint -> (asset, decimals) for the stablecoins a terminal is configured for
MINTS = {
    "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v": ("USDC", 6),
    "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB": ("USDT", 6),
}
MINT_BY_ASSET = {asset: mint for mint, (asset, _) in MINTS.items()}
_AMOUNT = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_SINGLE = ("amount", "spl-token", "label", "message", "memo")


def parse_solana_pubkey(text: str, *, what: str) -> str:
    """A base58 32-byte key, returned in canonical base58."""
    if not text or len(text) > 44:
        raise PayloadError("bad_address", f"{what} is not a base58 32-byte key")
    raw = b58decode(text, what=what)
    if len(raw) != 32:
        raise PayloadError("bad_address", f"{what} decodes to {len(raw)} bytes, not 32")
    if b58encode(raw) != text:
        raise PayloadError("bad_address", f"{what} is not in canonical base58")
    return text


@dataclass(frozen=True, slots=True)
class SolanaTransfer:
    kind = "solana_transfer"

    recipient: str
    amount: str | None = None  # user units, as written (e.g. "0.01")
    spl_token: str | None = None
    references: tuple[str, ...] = ()
    label: str | None = None
    message: str | None = None
    memo: str | None = None
    extras: tuple[tuple[str, str], ...] = ()

    @property
    def asset(self) -> str | None:
        if self.spl_token is None:
            return "SOL"
        known = MINTS.get(self.spl_token)
        return known[0] if known else None

    @property
    def decimals(self) -> int | None:
        if self.spl_token is None:
            return SOL_DECIMALS
        known = MINTS.get(self.spl_token)
        return known[1] if known else None

    @property
    def amount_minor(self) -> int | None:
        if self.amount is None or self.decimals is None:
            return None
        return parse_decimal(self.amount, self.decimals, what="amount", unit="mint")

    def to_json(self) -> dict[str, Any]:
        minor = self.amount_minor
        return {
            "network": None,
            "asset": self.asset,
            "amount": format_minor(minor, self.decimals or 0) if minor is not None else self.amount,
            "amount_minor": None if minor is None else str(minor),
            "address": self.recipient,
            "token": self.spl_token,
            "references": list(self.references),
            "label": self.label,
            "message": self.message,
            "memo": self.memo,
            "extras": dict(self.extras),
        }


@dataclass(frozen=True, slots=True)
class SolanaTransaction:
    kind = "solana_transaction"

    link: str  # absolute https URL, decoded
    extras: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "network": None,
            "asset": None,
            "amount": None,
            "amount_minor": None,
            "url": self.link,
            "extras": dict(self.extras),
        }


def _transaction(link_raw: str, query: str) -> SolanaTransaction:
    link = pct_decode(link_raw, what="transaction request link")
    parts = safe_urlsplit(link, what="transaction request link")
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise PayloadError("bad_url", "a Solana Pay transaction request link must be an absolute https URL")
    link = check_url_host(link, parts, scheme="https", what="transaction request link")
    extras = tuple(
        (pct_decode(k, what="parameter name"), pct_decode(v, what="parameter")) for k, v in split_query(query)
    )
    return SolanaTransaction(link=link, extras=extras)


def parse_solana_pay(text: str) -> SolanaTransfer | SolanaTransaction:
    if len(text) > MAX_URL_LENGTH:
        raise PayloadError("too_long", f"a Solana Pay URL has at most {MAX_URL_LENGTH} characters")
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() != "solana":
        raise PayloadError("unsupported_scheme", "not a solana: URL")
    path, _, query = rest.partition("?")
    if ":" in pct_decode(path, what="link"):
        return _transaction(path, query)
    recipient = parse_solana_pubkey(path, what="recipient")
    single: dict[str, str] = {}
    references: list[str] = []
    extras: list[tuple[str, str]] = []
    for raw_key, raw_value in split_query(query):
        key = pct_decode(raw_key, what="parameter name")
        value = pct_decode(raw_value, what=f"parameter {key!r}")
        if key in _SINGLE:
            if key in single:
                raise PayloadError("duplicate_param", f"{key!r} appears more than once")
            single[key] = value
        elif key == "reference":
            references.append(parse_solana_pubkey(value, what="reference"))
        else:
            extras.append((key, value))
    spl = single.get("spl-token")
    if spl is not None:
        parse_solana_pubkey(spl, what="spl-token mint")
    amount = single.get("amount")
    if amount is not None:
        if not _AMOUNT.fullmatch(amount):
            raise PayloadError(
                "bad_amount",
                f"amount {amount!r} must be a plain decimal with a leading digit (no sign, no exponent)",
            )
        decimals = SOL_DECIMALS if spl is None else MINTS.get(spl, ("", None))[1]
        # an unknown mint has at least 0 decimals, so its whole part alone must fit the u64
        minor = parse_decimal(
            amount if decimals is not None else amount.partition(".")[0],
            decimals or 0,
            what="amount",
            unit="SOL" if spl is None else MINTS.get(spl, ("this token",))[0],
        )
        check_cap(minor, U64_MAX, what=f"amount {amount!r}", why="a Solana u64 amount can hold")
    return SolanaTransfer(
        recipient=recipient,
        amount=amount,
        spl_token=spl,
        references=tuple(references),
        label=single.get("label"),
        message=single.get("message"),
        memo=single.get("memo"),
        extras=tuple(extras),
    )


def build_solana_pay(
    recipient: str,
    *,
    amount_minor: int | None = None,
    asset: str = "SOL",
    spl_token: str | None = None,
    decimals: int | None = None,
    references: tuple[str, ...] = (),
    label: str | None = None,
    message: str | None = None,
    memo: str | None = None,
) -> str:
    """A transfer request. ``asset`` SOL/USDC/USDT picks the mint; ``spl_token`` + ``decimals`` any other."""
    parse_solana_pubkey(recipient, what="recipient")
    if spl_token is None and asset.upper() != "SOL":
        if asset.upper() not in MINT_BY_ASSET:
            raise PayloadError(
                "bad_field", f"no known Solana mint for {asset!r}; pass spl_token and decimals"
            )
        spl_token = MINT_BY_ASSET[asset.upper()]
    if spl_token is not None:
        parse_solana_pubkey(spl_token, what="spl-token mint")
        decimals = MINTS[spl_token][1] if spl_token in MINTS else decimals
    else:
        decimals = SOL_DECIMALS
    params: list[tuple[str, str]] = []
    if amount_minor is not None:
        if amount_minor < 0 or decimals is None:
            raise PayloadError(
                "bad_amount", "amount must be non-negative, and an unknown mint needs decimals"
            )
        check_cap(amount_minor, U64_MAX, what="the amount", why="a Solana u64 amount can hold")
        params.append(("amount", format_minor(amount_minor, decimals)))
    if spl_token is not None:
        params.append(("spl-token", spl_token))
    params.extend(("reference", parse_solana_pubkey(r, what="reference")) for r in references)
    for key, value in (("label", label), ("message", message), ("memo", memo)):
        if value is not None:
            params.append((key, pct_encode(value)))
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"solana:{recipient}" + (f"?{query}" if query else "")
    if len(url) > MAX_URL_LENGTH:
        raise PayloadError("too_long", f"the URL would exceed {MAX_URL_LENGTH} characters")
    return url

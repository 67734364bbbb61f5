"""What a customer presented, as far as offline rules and replay protection need to know.

Built on :func:`terminal.domain.payloads.parse_payload`. The one-time part of each kind:

* Bolt Card (``lnurlw://...?p=..&c=..``): the SUN message ``p``/``c`` is new on every tap (``p``
  encrypts the card's UID and tap counter). The terminal holds no card keys, so it cannot read
  the counter; it refuses a ``p``/``c`` pair it has seen, which is what a replayed (recorded)
  tap is. The backend, which holds the keys, checks the counter itself. Where a terminal does
  learn (uid, counter), :meth:`terminal.journal.Journal.advance_counter` keeps them monotonic.
* wallet token (``CPT1:...``): its nonce, per wallet; an expired token is refused here.
* LNURL-withdraw: the whole link (its ``k1`` is single-use).
* the emulator's test cards (``cryptopos-test:card:*``) are reused on purpose: no guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from terminal.domain.payloads import PayloadError, parse_payload

if TYPE_CHECKING:
    from terminal.domain.money import Asset

TEST_PREFIX = "cryptopos-test:"


@dataclass(frozen=True, slots=True)
class Presentation:
    kind: str  # one of terminal.config.PAYLOAD_KINDS, another payload kind, or "unknown"
    replay_token: str | None  # a part that must never be seen twice, or None
    card_uid: str | None = None
    counter: int | None = None
    refusal: str | None = None  # why the terminal refuses it without asking the backend (a code)
    # the kind its replay token is remembered under when it differs from ``kind``: a tap wrapped
    # in an NDEF message is the same tap as the bare one, and must not dodge the guard
    guard_kind: str | None = None
    detail: str | None = None  # the refusal in words, when there is more to say than its code


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a payload cannot pay this sale: ``not_a_payment`` (the customer's own receive address
    or invoice) or ``asset_mismatch`` (it pays another asset or network); and in words."""

    code: str
    message: str


# A Bolt Card or an LNURL-withdraw link pays a Lightning invoice: the BTC-LN asset, never on-chain.
LIGHTNING = "BTC-LN"


def identify(payload: str, *, now: float, crypto: Asset | None = None) -> Presentation:
    """What ``payload`` is; with the sale's ``crypto``, also refused when it cannot pay that asset."""
    text = payload.strip()
    if text.lower().startswith(TEST_PREFIX):
        return Presentation("test_card", None)
    try:
        parsed = parse_payload(text, now=now)
    except PayloadError:
        return Presentation("unknown", None)  # the backend judges what the terminal cannot read
    # by kind, not by class: naming the classes here would import every format's parser (and
    # its crypto) at start-up, where parse_payload imports only the one a payload needs
    if parsed.kind == "ndef":
        content = getattr(parsed, "content", None)
        if content is None:
            seen = Presentation("ndef", None)
        else:
            inner = _classify(content)
            seen = replace(inner, kind="ndef", guard_kind=inner.guard_kind or inner.kind)
    else:
        seen = _classify(parsed)
    if seen.refusal is None and crypto is not None:
        unfit = _fit(parsed, crypto)
        if unfit is not None:
            seen = replace(seen, refusal=unfit.code, detail=unfit.message)
    return seen


def _withdraw_token(url: str) -> str:
    # one k1 link however it is spelt: scheme and host are case-insensitive
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


def _classify(parsed: Any) -> Presentation:
    if parsed.kind == "boltcard":
        return Presentation("bolt_card", f"{parsed.p.upper()}:{parsed.c.upper()}")
    if parsed.kind == "wallet_token":
        token = f"{parsed.wallet_id}:{parsed.nonce.hex()}"
        if parsed.expired:
            return Presentation("wallet_token", token, refusal="expired_token")
        return Presentation("wallet_token", token)
    if parsed.kind == "lnurl":
        if parsed.tag in (None, "withdrawRequest") and (
            parsed.tag == "withdrawRequest" or parsed.original.lower().startswith("lnurlw://")
        ):
            return Presentation("lnurl_withdraw", _withdraw_token(parsed.url))
        return Presentation("lnurl", None)
    return Presentation(str(parsed.kind), None)


def sale_refusal(payload: str, crypto: Asset | None, *, now: float) -> Refusal | None:
    """Why ``payload`` cannot pay a sale in ``crypto`` (or, without one, any sale), or None.

    What the terminal cannot read passes: the backend judges it (an opaque card token). The
    emulator's test-mode payloads (``cryptopos-test:``) are not a public format; they pass too."""
    text = payload.strip()
    if text.lower().startswith(TEST_PREFIX):
        return None
    try:
        parsed = parse_payload(text, now=now)
    except PayloadError:
        return None
    return _fit(parsed, crypto)


def _fit(parsed: Any, crypto: Asset | None) -> Refusal | None:
    # by kind, as identify() classifies: no parser class is imported here
    if parsed.kind == "ndef":
        if getattr(parsed, "content", None) is None:
            return Refusal("not_a_payment", "an NFC message without a payment in it")
        parsed = parsed.content
    lightning = parsed.kind == "boltcard" or (
        parsed.kind == "lnurl" and parsed.tag in (None, "withdrawRequest")
    )
    if lightning:
        if crypto is not None and crypto.code != LIGHTNING:
            what = "Bolt Card" if parsed.kind == "boltcard" else "LNURL-withdraw link"
            return Refusal(
                "asset_mismatch",
                f"a {what} pays over Lightning; this sale is in {crypto.code}: choose {LIGHTNING}",
            )
        return None
    if parsed.kind == "wallet_token":
        if crypto is not None and parsed.asset.upper() != crypto.code:
            return Refusal(
                "asset_mismatch",
                f"the wallet's token is for {parsed.asset.upper()}; this sale is in {crypto.code}",
            )
        return None
    kind = str(parsed.kind).replace("_", " ")
    return Refusal("not_a_payment", f"the customer showed a {kind} code, which asks to receive money")


def customer_refusal(payload: str, *, now: float, crypto: Asset | None = None) -> str | None:
    """Why ``payload`` is not something a customer presents to pay (this sale, with ``crypto``),
    or None when it is. Stricter than :func:`sale_refusal`: what does not parse is refused too.

    A camera sees every QR in view (a loyalty card, a wifi login, the customer's own receive
    address): only a payment a customer presents goes on to the sale and the backend."""
    text = payload.strip()
    if text.lower().startswith(TEST_PREFIX):
        return None
    try:
        parse_payload(text, now=now)
    except PayloadError as exc:
        return exc.message
    unfit = sale_refusal(text, crypto, now=now)
    return None if unfit is None else unfit.message


def customer_payment_filter(clock: Callable[[], float]) -> Callable[[str], bool]:
    """The ``accept=`` predicate a camera reader gets: decoded codes that are not a customer's
    payment are rejected by the reader (a ``code_rejected`` notice), never handed to the sale."""

    def accept(text: str) -> bool:
        return customer_refusal(text, now=clock()) is None

    return accept

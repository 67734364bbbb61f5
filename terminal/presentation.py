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
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from terminal.domain.payloads import PayloadError, parse_payload

TEST_PREFIX = "cryptopos-test:"
# What a customer can present to pay (parse_payload kinds). An address or an invoice shown by
# the customer asks to *receive* money: never submitted as a payment.
CUSTOMER_KINDS = frozenset({"boltcard", "lnurl", "wallet_token"})


@dataclass(frozen=True, slots=True)
class Presentation:
    kind: str  # one of terminal.config.PAYLOAD_KINDS, another payload kind, or "unknown"
    replay_token: str | None  # a part that must never be seen twice, or None
    card_uid: str | None = None
    counter: int | None = None
    refusal: str | None = None  # why the terminal refuses it without asking the backend
    # the kind its replay token is remembered under when it differs from ``kind``: a tap wrapped
    # in an NDEF message is the same tap as the bare one, and must not dodge the guard
    guard_kind: str | None = None


def identify(payload: str, *, now: float) -> Presentation:
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
            return Presentation("ndef", None)
        inner = _classify(content)
        return replace(inner, kind="ndef", guard_kind=inner.guard_kind or inner.kind)
    return _classify(parsed)


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


def customer_refusal(payload: str, *, now: float) -> str | None:
    """Why ``payload`` is not something a customer presents to pay, or None when it is.

    A camera sees every QR in view (a loyalty card, a wifi login, the customer's own receive
    address): only a payment a customer presents goes on to the sale and the backend. The
    emulator's test-mode payloads (``cryptopos-test:``) are not a public format; the backend
    interprets them, so they pass."""
    text = payload.strip()
    if text.lower().startswith(TEST_PREFIX):
        return None
    try:
        parsed = parse_payload(text, now=now)
    except PayloadError as exc:
        return exc.message
    kind = str(parsed.kind)
    if kind == "ndef":
        inner = getattr(parsed, "content", None)
        if inner is None:
            return "an NFC message without a payment in it"
        kind = str(inner.kind)
    if kind not in CUSTOMER_KINDS:
        return f"the customer showed a {kind.replace('_', ' ')} code, which asks to receive money"
    return None


def customer_payment_filter(clock: Callable[[], float]) -> Callable[[str], bool]:
    """The ``accept=`` predicate a camera reader gets: decoded codes that are not a customer's
    payment are rejected by the reader (a ``code_rejected`` notice), never handed to the sale."""

    def accept(text: str) -> bool:
        return customer_refusal(text, now=clock()) is None

    return accept

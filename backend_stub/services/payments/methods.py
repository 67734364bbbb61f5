"""Customer-presented payloads the payments service verifies before it approves.

- Bolt Card taps (``lnurlw://...?p=..&c=..``, or an ``LNURL1...`` that decodes to such a URL):
  SUN verification with the card's own keys from the store, and the tap counter must grow
  (a copied or replayed tap is declined ``replayed_tap``).
- Wallet payment tokens (``CPT1:...``): Ed25519 signature by a wallet key in the store, not
  expired, for the quote's asset, and the nonce used once (``replayed_token``).
- LNURL-withdraw without SUN: the emulator stands in for calling the service and approves.
- Both pay over Lightning: on a quote for anything but ``BTC-LN`` they are declined
  ``asset_mismatch`` (before a card's counter is used).
- A payload the payload layer reads as something else (a customer's receive address or invoice:
  ``bitcoin:``, ``ethereum:``, an address, BOLT11, LNURL-pay) asks to *receive* money and ties
  no payment to the quoted asset: declined ``not_a_payment``.
- What the payload layer cannot read at all (an opaque card token, test cards aside) is approved:
  the emulator stands in for a card network it does not model (decisions.md).

Every check runs inside the payment's write transaction, so the counter or nonce it consumes
commits together with the payment, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from backend_stub.services.common import Context
from backend_stub.services.payments.core import QuoteRow
from backend_stub.store import Store, Tx
from backend_stub.testmode import Behaviour
from terminal.domain.payloads import PayloadError, parse_payload, verify_sun, verify_token
from terminal.domain.payloads.boltcard import parse_card_tap
from terminal.domain.payloads.lnurl import parse_lnurl

# The card data a Bolt Card cannot have been decrypted by a key: the card is not ours.
_WRONG_KEY = frozenset({"bad_sun_header"})


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    reason: str | None
    method: str


APPROVED_CARD = Verdict("approved", None, "card")


def _declined(reason: str, method: str) -> Verdict:
    return Verdict("declined", reason, method)


def sun_params(text: str) -> tuple[str, str] | None:
    """``(p, c)`` when ``text`` is a Bolt Card tap in either form, else ``None``."""
    low = text.lower()
    if low.startswith("lnurlw://"):
        tap = parse_card_tap(text)
        return (tap.p, tap.c) if tap is not None else None
    if low.startswith(("lnurl1", "lightning:lnurl1")):
        query = parse_qs(urlsplit(parse_lnurl(text).url).query)
        if "p" in query and "c" in query:
            return query["p"][0], query["c"][0]
    return None


def is_lnurl_withdraw(text: str) -> bool:
    low = text.lower()
    if not low.startswith(("lnurlw://", "lnurl1", "lightning:lnurl1")):
        return False
    try:
        return parse_lnurl(text).tag in (None, "withdrawRequest")
    except PayloadError:
        return False


def verify_boltcard(db: Tx, store: Store, p: str, c: str) -> Verdict:
    method = "boltcard"
    reason = "unknown_card"
    for card in store.cards(db):
        try:
            sun = verify_sun(p, c, k1=card.k1, k2=card.k2)
        except PayloadError as exc:
            if exc.code not in _WRONG_KEY:
                reason = "bad_signature"  # this card's K1 decrypts it, but the MAC is forged
            continue
        if sun.uid.hex().upper() != card.uid:
            continue  # another card sharing this K1 (issuers often share it)
        # compare-and-set: of two taps racing with one counter, only one is accepted
        if not store.advance_card_counter(db, card.uid, sun.counter):
            return _declined("replayed_tap", method)
        return Verdict("approved", None, method)
    return _declined(reason, method)


def verify_wallet_token(db: Tx, text: str, *, quote: QuoteRow, now: float) -> Verdict:
    method = "wallet_token"
    keys = Store.wallet_keys(db)
    try:
        token = verify_token(text, public_keys=keys, now=now)
    except PayloadError as exc:
        reason = {
            "unknown_key": "unknown_wallet_key",
            "bad_signature": "bad_signature",
            "expired": "expired_token",
        }.get(exc.code, "invalid_token")
        return _declined(reason, method)
    if token.asset.upper() != quote.asset:
        return _declined("asset_mismatch", method)
    fresh = Store.claim_nonce(
        db, f"wallet:{token.key_id}", token.nonce.hex(), now=now, keep_until=float(token.expires_at) + 1
    )
    if not fresh:
        return _declined("replayed_token", method)
    return Verdict("approved", None, method)


LIGHTNING = "BTC-LN"


def verify_payload(db: Tx, store: Store, payload: str, *, quote: QuoteRow, now: float) -> Verdict:
    """The outcome of a customer-presented payload (test cards are decided before this)."""
    text = payload.strip()
    if text[:5].upper() == "CPT1:":
        return verify_wallet_token(db, text, quote=quote, now=now)
    try:
        sun = sun_params(text)
    except PayloadError:
        return _declined("invalid_payload", "boltcard")
    if sun is not None:
        if quote.asset != LIGHTNING:
            return _declined("asset_mismatch", "boltcard")
        return verify_boltcard(db, store, *sun)
    if is_lnurl_withdraw(text):
        if quote.asset != LIGHTNING:
            return _declined("asset_mismatch", "lnurl_withdraw")
        return Verdict("approved", None, "lnurl_withdraw")
    try:
        parse_payload(text, now=now)
    except PayloadError:
        return APPROVED_CARD  # nothing the payload layer reads: the stand-in card network's
    return _declined("not_a_payment", "card")


def decide(
    db: Tx, ctx: Context, *, payload: str, quote: QuoteRow, forced: Behaviour | None
) -> tuple[str, str | None, str]:
    """``(status, reason, method)`` of a customer-presented payment (inside its transaction)."""
    if forced is not None:
        return forced.status, forced.reason, "card"
    v = verify_payload(db, ctx.store, payload, quote=quote, now=ctx.now())
    return v.status, v.reason, v.method

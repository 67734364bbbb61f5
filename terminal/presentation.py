"""What a customer presented, as far as offline rules and replay protection need to know.

PENDING: payload parsing (``terminal.domain.payloads.parse_payload``, Bolt Card SUN
decryption, wallet-token nonces) is being built on another branch. Until it lands this
module tells the kinds apart by their scheme only and uses the one-time parts that can be
read without keys: a Bolt Card's ``p``/``c`` pair (a new SUN message on every tap) and a
whole LNURL-withdraw or wallet token. When the parser lands, :func:`identify` should take
the nonce and the (uid, counter) from it; the journal already keeps counters per card
(:meth:`terminal.journal.Journal.advance_counter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

TEST_PREFIX = "cryptopos-test:"


@dataclass(frozen=True, slots=True)
class Presentation:
    kind: str  # one of terminal.config.PAYLOAD_KINDS, or "unknown"
    replay_token: str | None  # a part that must never be seen twice, or None
    card_uid: str | None = None
    counter: int | None = None


def identify(payload: str) -> Presentation:
    text = payload.strip()
    lower = text.lower()
    if lower.startswith(TEST_PREFIX):
        # the emulator's test cards are reused on purpose: no replay guard
        return Presentation("test_card", None)
    if lower.startswith("lnurlw://"):
        query = parse_qs(urlsplit(text).query)
        p, c = query.get("p", [""])[-1], query.get("c", [""])[-1]
        if p and c:
            return Presentation("bolt_card", f"{p.upper()}:{c.upper()}")
        return Presentation("lnurl_withdraw", text)
    if lower.startswith(("lnurl1", "lightning:lnurl1")):
        return Presentation("lnurl_withdraw", lower.removeprefix("lightning:"))
    if lower.startswith("cryptopos-token:"):
        return Presentation("wallet_token", text)
    return Presentation("unknown", None)

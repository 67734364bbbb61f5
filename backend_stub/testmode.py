"""The emulator's test mode: test cards and magic amounts that force an outcome.

Like a payment processor's test mode (documented in docs/backend.md). Only active when
``ServiceSettings.test_mode`` is true, which is the emulator's default.

Test cards are payloads ``cryptopos-test:card:<behaviour>``; magic amounts are fiat
amounts in minor units of any currency (``40.02 EUR`` is 4002).
"""

from __future__ import annotations

from dataclasses import dataclass

TEST_CARD_PREFIX = "cryptopos-test:card:"


@dataclass(frozen=True, slots=True)
class Behaviour:
    status: str = "approved"
    reason: str | None = None
    slow: bool = False  # answers after ServiceSettings.slow_s
    drop: bool = False  # commits, then the response is lost (unknown outcome)


BEHAVIOURS: dict[str, Behaviour] = {
    "approve": Behaviour(),
    "decline": Behaviour("declined", "card_declined"),
    "insufficient": Behaviour("declined", "insufficient_funds"),
    "slow": Behaviour(slow=True),
    "unknown": Behaviour(drop=True),
}

# Magic fiat amounts (minor units) for payments; the quote is given normally.
MAGIC_PAYMENT_AMOUNTS: dict[int, str] = {
    4002: "decline",
    4003: "insufficient",
    4004: "slow",
    4005: "unknown",
}
# Magic fiat amounts (minor units) for quotes: the rates service refuses.
MAGIC_QUOTE_AMOUNTS: dict[int, str] = {
    4008: "rate-sources-stale",
    4009: "rate-sources-diverge",
}


def test_card(payload: str) -> Behaviour | None:
    """The behaviour a test card forces, or ``None`` when ``payload`` is not a test card.

    An unknown ``cryptopos-test:card:`` suffix declines (a typo in a test must not approve).
    """
    if not payload.startswith(TEST_CARD_PREFIX):
        return None
    return BEHAVIOURS.get(payload.removeprefix(TEST_CARD_PREFIX), Behaviour("declined", "unknown_test_card"))


def payment_behaviour(payload: str, fiat_minor: int) -> Behaviour | None:
    card = test_card(payload)
    if card is not None:
        return card
    magic = MAGIC_PAYMENT_AMOUNTS.get(fiat_minor)
    return BEHAVIOURS[magic] if magic else None

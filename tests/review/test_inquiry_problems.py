"""A sale whose answer was lost is never called declined because asking about it failed."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from terminal.client import OutcomeUnknownError, PaymentResult, ProblemError
from terminal.domain.money import Money, asset
from terminal.domain.quote import Quote
from terminal.journal import Journal
from terminal.sale import SaleCore

NOW = 1_800_000_000.0


class LostAnswerClient:
    """The payment's answer is lost; asking by reference is refused with ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.finds = 0

    async def quote(self, amount: Money, crypto: Any) -> Quote:
        return Quote(
            quote_id="q1",
            fiat=amount,
            crypto=Money(1000, crypto),
            rate=Decimal("100000"),
            spread_bps=0,
            expires_at=NOW + 60,
            issued_at=NOW,
        )

    async def create_payment(self, **_: Any) -> PaymentResult:
        raise OutcomeUnknownError("No answer from the backend", "left to reconcile")

    async def find_by_reference(self, reference: str) -> PaymentResult | None:
        self.finds += 1
        raise ProblemError(self.status, {"title": "Refused", "detail": "cannot list payments now"})


def test_a_refused_inquiry_leaves_the_sale_unknown_not_declined() -> None:
    client = LostAnswerClient(401)
    journal = Journal(":memory:")
    core = SaleCore(
        client=lambda: client,  # type: ignore[arg-type,return-value]
        journal=journal,
        terminal_id="t1",
        clock=lambda: NOW,
        inquiry_delay_s=0,
    )

    async def sale() -> None:
        core.enter(Money(500, asset("EUR")))
        await core.drive(core.open(asset("BTC")))
        await core.present("cryptopos-test:card:approve", "sim:nfc", NOW)

    asyncio.run(sale())
    assert client.finds >= 1
    assert core.reference is not None
    record = journal.get(core.reference)
    assert record is not None
    # the payment may have been charged: only the backend's answer (or reconcile) settles it
    assert record.state == "unknown_outcome"
    assert core.status == "unknown"

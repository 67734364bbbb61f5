"""A backend's answer that arrives after `reconcile` (another process) called the sale failed wins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from terminal.client import PaymentResult
from terminal.domain.money import Money, asset
from terminal.journal import Journal, SaleFinalError
from terminal.sale import SaleCore
from tests.review.test_inquiry_problems import NOW, LostAnswerClient


class SlowApprovalClient(LostAnswerClient):
    """While the payment is in flight, a reconcile elsewhere finds nothing and closes the sale
    as failed; then the backend's approval arrives."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(200)
        self.journal = journal

    async def create_payment(self, *, reference: str, **_: Any) -> PaymentResult:
        self.journal.update(reference, "failed", reason="the backend never received it; not charged")
        return PaymentResult(payment_id="pay_1", reference=reference, status="approved", reason=None)


def test_an_approval_after_reconcile_called_the_sale_failed_is_journaled_approved() -> None:
    journal = Journal(":memory:")
    client = SlowApprovalClient(journal)
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
    assert core.reference is not None
    record = journal.get(core.reference)
    assert record is not None
    # the customer was charged: the Z-report and the cashier must say so
    assert (record.state, record.payment_id) == ("approved", "pay_1")
    assert core.status == "approved"


def test_a_sale_the_terminal_never_sent_stays_final() -> None:
    journal = Journal(":memory:")
    journal.open_sale(reference="r", idempotency_key="k", fiat_minor=1, fiat_currency="EUR", asset="BTC")
    journal.update("r", "cancelled")
    with pytest.raises(SaleFinalError):
        journal.update("r", "approved", payment_id="pay_x")

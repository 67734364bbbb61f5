"""'run the refund again' after a lost answer re-sends the same refund, even without --amount."""

from __future__ import annotations

from terminal.cli.refund import plan_refund
from terminal.journal import Journal

ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def test_the_same_refund_again_without_amount_reuses_its_key() -> None:
    journal = Journal(":memory:")
    journal.open_sale(reference="r1", idempotency_key="k1", fiat_minor=310, fiat_currency="EUR", asset="BTC")
    journal.update("r1", "approved", payment_id="pay_1", crypto_minor=3502)
    first = plan_refund(journal, "pay_1", None, ADDRESS)
    assert first.amount_minor == 3502
    journal.update_refund(first.idempotency_key, "unknown_outcome", detail="no answer")
    again = plan_refund(journal, "pay_1", None, ADDRESS)
    assert again.idempotency_key == first.idempotency_key
    assert len(journal.refunds(payment_id="pay_1")) == 1

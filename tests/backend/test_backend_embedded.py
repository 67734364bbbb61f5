"""The embedded backend the terminal loads through the ``cryptopos.backends`` entry point."""

from __future__ import annotations

import pytest

from terminal.client import BackendClient, OutcomeUnknownError, backend_transport
from terminal.domain.money import Money, asset

KEY_ID, SECRET = "t_embedded", b"embedded-secret"


async def test_embedded_backend_takes_payments_and_loses_answers_on_request() -> None:
    transport = backend_transport("embedded", key_id=KEY_ID, secret=SECRET)
    assert transport is not None
    async with BackendClient(
        base_url="embedded", key_id=KEY_ID, secret=SECRET, transport=transport
    ) as client:
        quote = await client.quote(Money.parse("40.02", "EUR"), asset("BTC"))  # magic amount: decline
        declined = await client.create_payment(
            quote=quote, reference="e1", payload="tap", idempotency_key="e1"
        )
        assert (declined.status, declined.reason) == ("declined", "card_declined")
        quote = await client.quote(Money.parse("1.00", "EUR"), asset("BTC"))
        with pytest.raises(OutcomeUnknownError):
            await client.create_payment(
                quote=quote, reference="e2", payload="cryptopos-test:card:unknown", idempotency_key="e2"
            )
        found = await client.find_by_reference("e2")
        assert found is not None and found.status == "approved"
        again = await client.create_payment(
            quote=quote, reference="e2", payload="cryptopos-test:card:unknown", idempotency_key="e2"
        )
        assert again.payment_id == found.payment_id  # the retry replays, no second charge

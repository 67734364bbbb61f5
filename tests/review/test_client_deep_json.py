"""A backend answer nested too deep for Python's JSON decoder is a bad answer, not a crash."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from terminal.client import BackendClient, BackendError, BadAnswerError, OutcomeUnknownError
from terminal.domain.money import Money, asset
from terminal.domain.quote import Quote

DEEP = b"[" * 100_000 + b"]" * 100_000


def _client(status: int) -> BackendClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=DEEP, headers={"Content-Type": "application/json"})

    return BackendClient(
        base_url="http://backend.test",
        key_id="t1",
        secret=b"0123456789abcdef0123",
        transport=httpx.MockTransport(answer),
        api_version="v2",
        sleep=lambda _s: asyncio.sleep(0),
    )


@pytest.mark.parametrize("status", [200, 400, 503])
def test_a_deep_answer_to_a_read_is_a_backend_error(status: int) -> None:
    async def go() -> None:
        async with _client(status) as client:
            with pytest.raises(BackendError):
                await client.discover()

    asyncio.run(go())


def test_a_deep_answer_to_a_payment_is_an_unknown_outcome_not_a_crash() -> None:
    fiat = Money(500, asset("EUR"))
    quote = Quote(
        quote_id="q1",
        fiat=fiat,
        crypto=Money(1000, asset("BTC")),
        rate=Decimal("100000"),
        spread_bps=0,
        expires_at=4_000_000_000.0,
        issued_at=0.0,
    )

    async def go() -> None:
        async with _client(200) as client:
            with pytest.raises((BadAnswerError, OutcomeUnknownError)):
                await client.create_payment(
                    quote=quote, reference="r1", payload="cryptopos-test:card:approve", idempotency_key="k1"
                )

    asyncio.run(go())

"""Reconcile's grace for "the backend never received it" covers the client's worst-case retries."""

from __future__ import annotations

import httpx

from terminal.client import Timeouts
from terminal.client.retry import RetryPolicy
from terminal.journal import Journal
from terminal.settlement import GRACE_MARGIN_S, reconcile
from tests.client.helpers import Sleeps, make_client

NOW = 1_000_000.0


def empty(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"items": []})


def journal_with_sale(sent_ago: float) -> Journal:
    j = Journal(":memory:", clock=lambda: NOW)
    j.open_sale(reference="r1", idempotency_key="k1", fiat_minor=310, fiat_currency="EUR", asset="BTC")
    j.update("r1", "unknown_outcome", submitted_at=NOW - sent_ago)
    return j


def test_send_window_follows_the_retry_settings(sleeps: Sleeps) -> None:
    t = Timeouts(connect_s=2.0, read_s=10.0, write_s=5.0, pool_s=2.0)
    c = make_client(
        httpx.MockTransport(empty),
        sleeps,
        timeouts=t,
        policy=RetryPolicy(max_attempts=4, cap_s=2.0, max_retry_after_s=10.0, base_s=0.1),
    )
    assert c.send_window_s() == 4 * 19.0 + 3 * 10.1
    more = make_client(httpx.MockTransport(empty), sleeps, timeouts=t, policy=RetryPolicy(max_attempts=6))
    assert more.send_window_s() > c.send_window_s()


async def test_a_sale_is_not_failed_while_its_sender_may_still_be_retrying(sleeps: Sleeps) -> None:
    async with make_client(httpx.MockTransport(empty), sleeps, api_version="v1") as c:
        window = c.send_window_s()
        assert window > 45  # the default settings retry for longer than the old 15 s grace
        j = journal_with_sale(sent_ago=45.0)
        report = await reconcile(client=c, journal=j, clock=lambda: NOW, forward=False)
        assert j.get("r1").state == "unknown_outcome"  # type: ignore[union-attr]
        assert "r1" in report.left
        j2 = journal_with_sale(sent_ago=window + GRACE_MARGIN_S + 1)
        await reconcile(client=c, journal=j2, clock=lambda: NOW, forward=False)
        assert j2.get("r1").state == "failed"  # type: ignore[union-attr]

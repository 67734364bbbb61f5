"""Offline: the backend is down, payments within the caps are queued, the caps refuse with a clear
message, the backend comes back, each queued payment is charged exactly once, in order, also when
the terminal dies mid-forwarding."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from terminal.domain.money import Money, asset
from terminal.journal import Journal
from terminal.sale import OfflineCaps, OfflinePolicy
from terminal.settlement import forward_offline, reconcile
from tests.reliability.faults import Fault, FaultTransport
from tests.reliability.harness import (
    APPROVE,
    Backend,
    NoSleep,
    assert_ledger_agrees,
    client,
    ledger,
    run_sales,
)

EUR = asset("EUR")
POLICY = OfflinePolicy(
    enabled=True,
    caps={"EUR": OfflineCaps(max_payment=Money(2000, EUR), max_total=Money(5000, EUR))},
    allowed_kinds=("test_card", "bolt_card"),
)
CARD = "lnurlw://card.example/ln?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE"


class Crash(BaseException):
    """The terminal dies: nothing after this point runs (not an Exception: nothing catches it)."""


class CrashAfterCommit(httpx.AsyncBaseTransport):
    """Lets the n-th payment POST reach the backend, then 'kills the terminal' before the answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport, nth: int) -> None:
        self.inner, self.nth, self.posts = inner, nth, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path in (
            "/payments/v1/payments",
            "/payments/v2/payments",
        ):
            self.posts += 1
            if self.posts == self.nth:
                await resp.aread()
                raise Crash
        return resp


async def take(c: object, journal: Journal, payload: str, major: str) -> tuple[str, str | None]:
    # BTC-LN: the Bolt Card pays over Lightning (the test cards pay any asset)
    [r] = await run_sales(
        c, journal, [payload], amount=Money.parse(major, EUR), offline=POLICY, crypto=asset("BTC-LN")
    )  # type: ignore[arg-type]
    return r.status, r.reason


async def test_offline_queue_caps_and_forwarding_across_a_crash(
    stub: httpx.AsyncBaseTransport, backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    down = FaultTransport(stub, [Fault("refuse", "", times=10_000)])
    async with client(down, sleep=NoSleep()) as c:
        assert await take(c, journal, APPROVE, "12.50") == ("queued", None)
        assert await take(c, journal, CARD, "15.00") == ("queued", None)
        status, reason = await take(c, journal, APPROVE, "30.00")
        assert status == "cancelled"
        assert (
            reason is not None
            and "limited to 20.00 EUR each" in reason
            and "this sale is 30.00 EUR" in reason
        )
        assert await take(c, journal, APPROVE, "15.00") == ("queued", None)
        status, reason = await take(c, journal, APPROVE, "10.00")
        assert status == "cancelled"
        assert reason is not None and "offline queue is full: 42.50 EUR of 50.00 EUR" in reason
        status, reason = await take(c, journal, CARD, "1.00")  # the same card tap again
        assert (status, reason) == ("declined", "replayed_tap")
        status, reason = await take(c, journal, "cryptopos-token:abc", "1.00")
        assert status == "declined" and reason is not None and "cannot be accepted offline" in reason
    assert ledger(backend) == []
    queued = [s.reference for s in journal.offline_queue()]
    assert len(queued) == 3
    assert [s.payload_kind for s in journal.offline_queue()] == ["test_card", "bolt_card", "test_card"]
    assert all(s.payload is not None for s in journal.offline_queue())

    # back online; the terminal dies right after the second forwarded payment reached the backend
    async with client(CrashAfterCommit(stub, nth=2), sleep=NoSleep()) as c:
        with pytest.raises(Crash):
            await forward_offline(client=c, journal=journal)
    journal.close()
    assert [ref for ref, _, _ in ledger(backend)] == queued[:2]

    # restart: a new journal connection and client; reconcile asks before it sends again
    journal = Journal(path)
    assert [s.state for s in journal.offline_queue()] == ["forwarding", "offline_queued"]
    counting = FaultTransport(stub, [])
    async with client(counting, sleep=NoSleep()) as c:
        result = await reconcile(client=c, journal=journal, grace_s=0.0)
        again = await reconcile(client=c, journal=journal, grace_s=0.0)
    assert result.forwarded == queued[1:] and result.clean
    assert again.forwarded == [] and again.settled == {}
    assert sum(1 for line in counting.log if line.startswith("POST /payments/")) == 1  # only the third
    assert [ref for ref, _, _ in ledger(backend)] == queued  # in order, each once
    settled = [journal.get(r) for r in queued]
    assert all(s is not None and s.final and s.payload is None for s in settled)  # payloads wiped
    # the test cards are approved; the Bolt Card is judged by the backend (it knows no such card)
    assert [s.state for s in settled if s is not None and s.payload_kind == "test_card"] == [
        "approved",
        "approved",
    ]
    # the original idempotency key went with each
    keys = {s.reference: s.idempotency_key for s in journal.sales()}
    assert {keys[r] for r in queued} <= backend.idempotency_keys()
    assert_ledger_agrees(journal, ledger(backend))
    journal.close()


async def test_offline_is_off_by_default_and_says_so(
    stub: httpx.AsyncBaseTransport, backend: Backend, journal: Journal
) -> None:
    down = FaultTransport(stub, [Fault("refuse", "", times=10_000)])
    async with client(down, sleep=NoSleep()) as c:
        [r] = await run_sales(c, journal, [APPROVE])
    assert r.status == "cancelled"
    assert r.reason is not None and "offline payments are off" in r.reason
    assert journal.offline_queue() == []

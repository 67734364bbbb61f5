"""Every fault, then the ledger: each approved payment exactly once, nothing left open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from terminal.client import CircuitBreaker, RetryPolicy, Timeouts
from terminal.journal import Journal
from terminal.settlement import reconcile
from tests.reliability.faults import Fault, FaultTransport, ResetProxy
from tests.reliability.harness import (
    APPROVE,
    Backend,
    NoSleep,
    ThreadServer,
    assert_ledger_agrees,
    client,
    ledger,
    run_sales,
)

PAY = "POST /payments/v"  # either version's payments


async def run_with(
    stub: httpx.AsyncBaseTransport, journal: Journal, faults: list[Fault], api: str, n: int = 3
) -> tuple[FaultTransport, NoSleep, list[str]]:
    ft = FaultTransport(stub, faults)
    sleeps = NoSleep()
    async with client(ft, sleep=sleeps, api_version=api) as c:
        reports = await run_sales(c, journal, [APPROVE] * n)
        await ft.settle()
        await reconcile(client=c, journal=journal, grace_s=0.0)
    return ft, sleeps, [r.status for r in reports]


def posts_reaching_backend(ft: FaultTransport) -> int:
    return sum(
        1 for line in ft.log if line.startswith(PAY) and not line.endswith(("refuse", "drop", " status"))
    )


async def test_connection_refused(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    _ft, sleeps, statuses = await run_with(stub, journal, [Fault("refuse", PAY, times=2)], api=api)
    assert statuses == ["approved"] * 3
    assert len(sleeps.calls) == 2  # two backoffs, then through
    assert_ledger_agrees(journal, ledger(backend))
    assert len(ledger(backend)) == 3


async def test_connection_refused_for_good_charges_nothing(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    _, _, statuses = await run_with(stub, journal, [Fault("refuse", PAY, times=100)], n=2, api=api)
    assert statuses == ["failed", "failed"]
    assert ledger(backend) == []
    assert_ledger_agrees(journal, ledger(backend))


async def test_timeout_before_the_backend_committed(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    ft, _, statuses = await run_with(stub, journal, [Fault("drop", PAY, times=1)], api=api)
    assert statuses == ["approved"] * 3
    # lost request -> inquiry found nothing -> resent with the same key
    first = [line for line in ft.log if "/payments/" in line][:3]
    assert first == [
        f"POST /payments/{api}/payments drop",
        f"GET /payments/{api}/payments ok",
        f"POST /payments/{api}/payments ok",
    ]
    assert_ledger_agrees(journal, ledger(backend))
    assert len(ledger(backend)) == 3


async def test_timeout_and_the_lost_request_arrives_late(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    # the client gives up, asks, resends; the first request reaches the backend afterwards
    _, _, statuses = await run_with(
        stub, journal, [Fault("delay_deliver", PAY, times=2, delay_s=0.01)], api=api
    )
    assert statuses == ["approved"] * 3
    assert_ledger_agrees(journal, ledger(backend))
    assert len(ledger(backend)) == 3


async def test_timeout_after_the_backend_committed(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    ft, _, statuses = await run_with(stub, journal, [Fault("timeout_after", PAY, times=3)], api=api)
    assert statuses == ["approved"] * 3
    assert posts_reaching_backend(ft) == 3  # found by reference each time, never resent
    assert_ledger_agrees(journal, ledger(backend))


async def test_reset_mid_response(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    ft, _, statuses = await run_with(stub, journal, [Fault("reset_after", PAY, times=2)], api=api)
    assert statuses == ["approved"] * 3
    assert posts_reaching_backend(ft) == 3
    assert_ledger_agrees(journal, ledger(backend))


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_storm_before_the_backend(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, status: int, api: str
) -> None:
    faults = [
        Fault("status", PAY, times=3, status=status),
        Fault("status", "POST /rates/", times=3, status=status),
    ]
    _, _, statuses = await run_with(stub, journal, faults, n=3, api=api)
    assert statuses == ["approved"] * 3
    assert_ledger_agrees(journal, ledger(backend))


async def test_500_storm_after_the_backend_committed(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    _, _, statuses = await run_with(stub, journal, [Fault("status_after", PAY, times=3, status=500)], api=api)
    assert statuses == ["approved"] * 3
    assert_ledger_agrees(journal, ledger(backend))
    assert len(ledger(backend)) == 3


async def test_503_storm_longer_than_the_retries_is_settled_by_reconcile(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    # every POST answered 503 by the "load balancer" for a while: the sale ends unknown, then
    # reconcile asks the backend, which never got it: failed, not charged
    ft = FaultTransport(stub, [Fault("status", PAY, times=40, status=503)])
    async with client(ft, sleep=NoSleep(), api_version=api) as c:
        reports = await run_sales(c, journal, [APPROVE])
        assert reports[0].status == "unknown"
        assert journal.unsettled()
        ft.faults.clear()
        result = await reconcile(client=c, journal=journal, grace_s=0.0)
    assert result.clean and result.settled == {reports[0].reference: "failed"}
    assert_ledger_agrees(journal, ledger(backend))


async def test_429_with_retry_after(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    ft, sleeps, statuses = await run_with(
        stub, journal, [Fault("status", PAY, times=2, status=429, retry_after="2")], n=2, api=api
    )
    assert statuses == ["approved"] * 2
    assert [round(s) for s in sleeps.calls] == [2, 2]
    assert posts_reaching_backend(ft) == 2
    assert_ledger_agrees(journal, ledger(backend))


async def test_a_backend_that_restarts(journal: Journal, backend: Backend, api: str) -> None:
    server = ThreadServer(backend.app)
    server.start()
    try:
        async with client(
            None,
            base_url=server.url,
            api_version=api,
            policy=RetryPolicy(max_attempts=10, base_s=0.1, cap_s=0.3),
            breaker=CircuitBreaker(failure_threshold=50),
            rand=lambda: 0.99,  # ~2.4 s of retries in all: longer than the restart
        ) as c:
            await run_sales(c, journal, [APPROVE])
            server.stop()  # down; the ledger (a SQLite file) is there when it starts again

            async def come_back() -> None:
                await asyncio.sleep(0.3)
                await asyncio.to_thread(server.start)

            back = asyncio.create_task(come_back())
            reports = await run_sales(c, journal, [APPROVE, APPROVE])
            await back
            await reconcile(client=c, journal=journal, grace_s=0.0)
        assert [r.status for r in reports] == ["approved", "approved"]
    finally:
        server.stop()
    assert_ledger_agrees(journal, ledger(backend))
    assert len(ledger(backend)) == 3


async def test_reset_mid_response_through_a_tcp_proxy(
    journal: Journal, backend: Backend, server: ThreadServer, api: str
) -> None:
    proxy = ResetProxy(server.port)
    await proxy.start()
    try:
        proxy.resets_left = 2
        async with client(None, base_url=f"http://127.0.0.1:{proxy.port}", api_version=api) as c:
            reports = await run_sales(c, journal, [APPROVE] * 3)
            await reconcile(client=c, journal=journal, grace_s=0.0)
    finally:
        await proxy.stop()
    assert proxy.resets_done == 2
    assert [r.status for r in reports] == ["approved"] * 3
    assert_ledger_agrees(journal, ledger(backend))
    assert len(ledger(backend)) == 3


async def test_the_backend_itself_drops_the_answer_after_committing(
    stub: httpx.AsyncBaseTransport, journal: Journal, backend: Backend, api: str
) -> None:
    # the emulator's test card "unknown": committed, then the response is cut mid-way
    ft = FaultTransport(stub, [])
    async with client(ft, sleep=NoSleep(), api_version=api) as c:
        reports = await run_sales(c, journal, ["cryptopos-test:card:unknown", APPROVE])
        assert c.stats.inquiries == 1
    assert [r.status for r in reports] == ["approved", "approved"]
    assert sum(1 for line in ft.log if line.startswith("POST /payments/")) == 2  # never resent
    assert_ledger_agrees(journal, ledger(backend))


async def test_a_real_read_timeout_before_the_backend_committed(
    tmp_path: Path, journal: Journal, api: str
) -> None:
    # over a real socket: the backend holds the payment 0.8 s before committing, the client gives
    # up reading after 0.2 s, asks (nothing yet), resends (409 in flight), and ends with the one payment
    slow = Backend(tmp_path / "slow-ledger.sqlite3", slow_s=0.8)
    server = ThreadServer(slow.app)
    server.start()
    try:
        async with client(
            None,
            base_url=server.url,
            api_version=api,
            timeouts=Timeouts(read_s=0.2),
            policy=RetryPolicy(max_attempts=6, base_s=0.1, cap_s=0.3),
        ) as c:
            reports = await run_sales(c, journal, ["cryptopos-test:card:slow", APPROVE])
            await reconcile(client=c, journal=journal, grace_s=0.0)
            assert c.stats.inquiries >= 1
        assert [r.status for r in reports] == ["approved", "approved"]
        assert_ledger_agrees(journal, ledger(slow))
        assert len(ledger(slow)) == 2
    finally:
        server.stop()
        slow.store.close()

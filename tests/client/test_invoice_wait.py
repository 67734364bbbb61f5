"""The client's invoice waiter: one long-poll at a time against a backend that offers it, polling
against one that does not; in-process and through a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend_stub.transport import InProcessTransport
from terminal.client import BackendClient, InvoiceResult, InvoiceWaiter, Timeouts
from terminal.domain.money import Money, asset
from tests.client.helpers import KEY_ID, SECRET, Backend
from tests.support import serve

EUR = asset("EUR")
BTC = asset("BTC")


class Counting(httpx.AsyncBaseTransport):
    """Passes requests on and keeps their method and path (with query)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.raw_path.decode()}")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def invoice_reads(self) -> list[str]:
        return [s for s in self.seen if s.startswith("GET /payments/v2/invoices/")]


def client(
    transport: httpx.AsyncBaseTransport, base_url: str = "http://backend.test", **kw: Any
) -> BackendClient:
    return BackendClient(base_url=base_url, key_id=KEY_ID, secret=SECRET, transport=transport, **kw)


async def wait_until_paid(
    waiter: InvoiceWaiter, inv: InvoiceResult, pay: Callable[[], Any], *, pay_after_s: float
) -> tuple[InvoiceResult, int]:
    """What the till's waiting screen does: follow the invoice until it is paid."""

    async def customer() -> None:
        await asyncio.sleep(pay_after_s)
        await pay()

    task = asyncio.create_task(customer())
    rounds = 0
    while inv.status == "pending":
        inv = await waiter.next(inv)
        rounds += 1
    await task
    return inv, rounds


@pytest.mark.parametrize("over", ["in-process", "uvicorn"])
@pytest.mark.parametrize("offered", [True, False])
async def test_a_waiting_till_follows_its_invoice_until_paid(
    tmp_path: Path, over: str, offered: bool
) -> None:
    backend = Backend(tmp_path / "ledger.sqlite3", invoice_wait_max_s=4.0 if offered else 0.0)
    try:
        await _follow(backend, over, offered)
    finally:
        backend.store.close()


async def _follow(backend: Backend, over: str, offered: bool) -> None:
    with serve(backend.app) if over == "uvicorn" else nullcontext(None) as url:
        inner: httpx.AsyncBaseTransport = (
            httpx.AsyncHTTPTransport() if over == "uvicorn" else InProcessTransport(backend.app)
        )
        counting = Counting(inner)
        async with client(counting, url or "http://backend.test") as c:
            q = await c.quote(Money(2500, EUR), BTC)
            inv = await c.create_invoice(quote=q, reference="wait-1", idempotency_key="K-wait-1")
            assert inv.version is not None
            waiter = InvoiceWaiter(c, wait_s=20.0, poll_s=0.1)
            assert await waiter.long_poll() is offered

            async def pay() -> None:
                await c.request_json(
                    "POST",
                    f"/payments/v2/invoices/{inv.invoice_id}/simulate",
                    {"amount_minor": str(inv.amount_minor)},
                )

            started = time.monotonic()
            paid, rounds = await wait_until_paid(waiter, inv, pay, pay_after_s=1.0)
            took = time.monotonic() - started
    assert (paid.status, paid.payment_status) == ("paid", "approved")
    assert took < 4.0, took  # seen on the change, not at the end of a wait
    reads = counting.invoice_reads()
    held = [r for r in reads if "wait=" in r]
    if offered:
        # one held request carried the whole second of waiting
        assert rounds == 1 and len(held) == 1, reads
        assert f"after={inv.version}" in held[0] and "wait=8" in held[0]  # 10 s read timeout - 2
    else:
        # an old backend: never asked to hold, polled every 0.1 s instead
        assert not held
        assert len(reads) >= 5, reads


async def test_an_unchanged_invoice_comes_back_after_the_wait_on_both_paths(tmp_path: Path) -> None:
    for offered in (True, False):
        backend = Backend(tmp_path / f"l{offered}.sqlite3", invoice_wait_max_s=1.0 if offered else 0.0)
        counting = Counting(InProcessTransport(backend.app))
        async with client(counting) as c:
            q = await c.quote(Money(2500, EUR), BTC)
            inv = await c.create_invoice(quote=q, reference="same", idempotency_key="K-same")
            waiter = InvoiceWaiter(c, wait_s=1.0, poll_s=0.25)
            started = time.monotonic()
            again = await waiter.next(inv)
            took = time.monotonic() - started
        backend.store.close()
        assert again == inv
        assert 0.9 <= took < 3.0, (offered, took)
        polls = len(counting.invoice_reads())
        assert polls == (1 if offered else 4), (offered, counting.invoice_reads())


def test_the_hold_stays_within_the_clients_read_timeout(tmp_path: Path) -> None:
    c = BackendClient(base_url="http://x.test", key_id="k", secret=b"s" * 16, timeouts=Timeouts(read_s=5.0))
    assert InvoiceWaiter(c, wait_s=20.0).hold_s() == 3
    assert InvoiceWaiter(c, wait_s=2.0).hold_s() == 2
    short = BackendClient(
        base_url="http://x.test", key_id="k", secret=b"s" * 16, timeouts=Timeouts(read_s=2.5)
    )
    assert InvoiceWaiter(short).hold_s() == 1


async def test_discovery_is_asked_once_and_a_failed_discovery_means_polling(tmp_path: Path) -> None:
    backend = Backend(tmp_path / "ledger.sqlite3")
    counting = Counting(InProcessTransport(backend.app))
    async with client(counting, api_version="v2") as c:
        waiter = InvoiceWaiter(c)
        assert await waiter.long_poll() and await waiter.long_poll()
        assert counting.seen.count("GET /discovery") == 1
    backend.store.close()

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/discovery":
            return httpx.Response(503, json={"title": "down"})
        raise AssertionError(request.url)

    async def no_sleep(_: float) -> None:
        return None

    async with client(httpx.MockTransport(broken), api_version="v2", sleep=no_sleep) as c:
        assert await InvoiceWaiter(c).long_poll() is False

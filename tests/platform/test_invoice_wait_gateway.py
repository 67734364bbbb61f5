"""The invoice long-poll through the gateway: a held request is answered, never cut as a hung
instance (the instance's wait stays below the gateway's per-try timeout)."""

from __future__ import annotations

import asyncio
import time

from backend_stub.cluster import ManualClock
from backend_stub.deployment import Deployment
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.client import BackendClient, InvoiceWaiter
from terminal.domain.money import Money, asset
from tests.platform.helpers import KEY_ID, SECRET, topology


async def test_a_held_invoice_request_passes_the_gateway_and_sees_a_payment_made_elsewhere(
    ledger: Store,
) -> None:
    settings = ServiceSettings(keys={KEY_ID: SECRET})
    assert settings.invoice_wait_max_s < 5.0  # the topology's per_try_timeout_s
    d = Deployment.in_process(topology(), store=ledger, settings=settings, clock=ManualClock())
    await d.start()
    try:
        async with BackendClient(
            base_url="http://gateway.test",
            key_id=KEY_ID,
            secret=SECRET,
            transport=InProcessTransport(d.gateway),
        ) as c:
            q = await c.quote(Money.parse("25.00", "EUR"), asset("BTC"))
            inv = await c.create_invoice(quote=q, reference="gw-wait", idempotency_key="K-gw-wait")
            waiter = InvoiceWaiter(c, wait_s=20.0)
            assert await waiter.long_poll()

            # nothing happens: the instance holds the request its full 4 s and answers 200
            started = time.monotonic()
            same = await waiter.next(inv)
            held = time.monotonic() - started
            assert same == inv and 3.5 < held < 5.0, held

            # the payment goes through the gateway too, most likely to another of 3 instances
            async def pay() -> None:
                await asyncio.sleep(0.5)
                await c.request_json(
                    "POST",
                    f"/payments/v2/invoices/{inv.invoice_id}/simulate",
                    {"amount_minor": str(inv.amount_minor)},
                )

            started = time.monotonic()
            paid, _ = await asyncio.gather(waiter.next(inv), pay())
            assert (paid.status, paid.payment_status) == ("paid", "approved")
            assert time.monotonic() - started < 3.5  # a recheck (1 s) or a wake-up, not the end of the wait
            assert c.stats.retries == 0  # nothing was cut and sent again
        # no instance was taken for hung: none failed or was ejected
        instances = [i for pool in d.cluster.pools.values() for i in pool.instances]
        assert instances and not any(i.consecutive_failures or i.ejected_until for i in instances)
    finally:
        await d.aclose()

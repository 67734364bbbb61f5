"""PostgreSQL stops in the middle of the terminal's sales and starts again. Every sale ends either
answered with its final state or unknown for the terminal to settle (reconcile), and once it has:
the journal and the ledger agree, nothing is charged twice, and readiness said 503 meanwhile."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from terminal.journal import Journal
from terminal.settlement import reconcile
from tests.pg import Ledger, PgServer, key_file
from tests.reliability.harness import KEY_ID, SECRET, ThreadServer, assert_ledger_agrees, client, run_sales


async def test_postgres_stopped_mid_traffic_loses_nothing_and_charges_nothing_twice(
    postgres: PgServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger("postgresql", postgres.database(), key_file(tmp_path))
    store = ledger.open()
    server = ThreadServer(create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET})))
    server.start()
    journal = Journal(tmp_path / "journal.sqlite3")
    ready_codes: list[int] = []
    try:
        async with client(None, base_url=server.url) as c:
            before = await run_sales(c, journal, ["cryptopos-test:card:approve"] * 3)
            assert [r.status for r in before] == ["approved"] * 3

            async def outage() -> None:
                await asyncio.sleep(0.3)
                await asyncio.to_thread(postgres.pg_ctl, "stop", "-m", "fast")
                async with httpx.AsyncClient(base_url=server.url) as raw:
                    ready_codes.append((await raw.get("/readyz", timeout=10)).status_code)
                await asyncio.sleep(1.0)
                await asyncio.to_thread(postgres.start)

            during = asyncio.ensure_future(outage())
            # The payment window starts before the quote, and a quote that rides out the outage
            # through the client's retries took ~3 s: a 3 s window then closed before the tap
            # ("expired", nothing sent). A wide window costs nothing: the tap comes at once.
            reports = await run_sales(c, journal, ["cryptopos-test:card:approve"] * 12, wait_s=20.0)
            await during
            states = [r.status for r in reports]
            assert set(states) <= {"approved", "unknown", "failed"}, states
            assert "approved" in states
            after = await run_sales(c, journal, ["cryptopos-test:card:approve"] * 2)
            assert [r.status for r in after] == ["approved"] * 2
            for _ in range(20):
                result = await reconcile(client=c, journal=journal, grace_s=0.0)
                if result.clean:
                    break
                await asyncio.sleep(0.2)
        assert ready_codes == [503]
        payments = [
            (r["reference"], r["payment_id"], r["status"])
            for r in store.fetch_all("SELECT reference, payment_id, status FROM payments ORDER BY seq")
        ]
        assert_ledger_agrees(journal, payments)
        print(f"outage: {states}")
    finally:
        journal.close()
        server.stop()
        with contextlib.suppress(Exception):
            postgres.start()
        store.close()

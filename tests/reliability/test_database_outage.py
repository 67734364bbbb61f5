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


async def test_a_postgres_restart_fails_no_request_and_a_down_database_is_a_503(
    postgres: PgServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Every pooled connection is broken by a restart; each is checked when taken from the pool,
    so none of them fails a request afterwards. While the server is down, a request gets a 503
    problem that says so, not a 500."""
    import time

    from tests.backend.conftest import KEY_ID as API_KEY_ID
    from tests.backend.conftest import SECRET as API_SECRET
    from tests.backend.conftest import Api, FakeClock

    ledger = Ledger("postgresql", postgres.database(), key_file(tmp_path))
    store = ledger.open()
    server = ThreadServer(create_app(store=store, settings=ServiceSettings(keys={API_KEY_ID: API_SECRET})))
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            api = Api(http, FakeClock(time.time()))
            # concurrent sales: both pools hold several connections now
            quotes = await asyncio.gather(*(api.quote_v2(fiat_minor=1000 + i) for i in range(12)))
            paid = await asyncio.gather(
                *(api.pay_v2(q, key=f"k{i}", reference=f"r{i}") for i, q in enumerate(quotes))
            )
            assert [p.status_code for p in paid] == [201] * 12

            await asyncio.to_thread(postgres.pg_ctl, "stop", "-m", "fast")
            down = await api.get(f"/payments/v2/payments/{paid[0].json()['payment_id']}")
            assert (down.status_code, down.json()["type"]) == (
                503,
                "https://cryptopos.dev/problems/store-unavailable",
            )
            assert down.headers["retry-after"] == "1"
            await asyncio.to_thread(postgres.start)

            # one request at a time, so each takes a connection the restart broke (if any is left)
            codes = []
            for i in range(12):
                q = await api.quote_v2(fiat_minor=2000 + i)
                p = await api.pay_v2(q, key=f"after{i}", reference=f"after{i}")
                got = await api.get(f"/payments/v2/payments/{p.json()['payment_id']}")
                codes += [p.status_code, got.status_code]
            assert codes == [201, 200] * 12
    finally:
        server.stop()
        with contextlib.suppress(Exception):
            postgres.start()
        store.close()

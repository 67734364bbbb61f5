"""Over real sockets: the terminal's client against a real uvicorn server (the ledger shared by
processes is tested in test_store_concurrency.py, on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import httpx

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.client import BackendClient
from terminal.domain.money import Money, asset
from tests.support import serve

from .conftest import KEY_ID, SECRET

REPO = Path(__file__).resolve().parents[2]


async def test_the_terminal_client_over_a_real_uvicorn_server(tmp_path: Path) -> None:
    store = Store(tmp_path / "ledger.sqlite3")
    app = create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}))
    with serve(app) as url:
        async with BackendClient(base_url=url, key_id=KEY_ID, secret=SECRET) as client:
            quote = await client.quote(Money.parse("12.50", "EUR"), asset("BTC"))
            paid = await client.create_payment(
                quote=quote, reference="real-1", payload="cryptopos-test:card:approve", idempotency_key="i-1"
            )
            assert (paid.status, paid.reference) == ("approved", "real-1")
            # A lost answer over a real socket: the server commits, then cuts the connection.
            # The client never guesses: it asks by reference and finds the committed payment.
            quote = await client.quote(Money.parse("3.00", "EUR"), asset("BTC"))
            settled = await client.create_payment(
                quote=quote,
                reference="real-2",
                payload="cryptopos-test:card:unknown",
                idempotency_key="i-2",
            )
            assert settled.status == "approved" and client.stats.inquiries == 1
            found = await client.find_by_reference("real-2")
            assert found is not None and found.status == "approved"
        # Version headers and problem documents survive the real HTTP stack too.
        async with httpx.AsyncClient(base_url=url) as raw:
            r = await raw.post("/rates/v1/quotes", json={})
            assert r.status_code == 401
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["deprecation"].startswith("@")
            assert (await raw.get("/readyz")).json()["status"] == "ready"
    assert store.count("payments") == 2
    store.close()

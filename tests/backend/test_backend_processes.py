"""Across processes and over real sockets: one SQLite ledger, a real uvicorn server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.client import BackendClient, OutcomeUnknownError
from terminal.domain.money import Money, asset
from tests.support import serve

from .conftest import KEY_ID, SECRET, Api, FakeClock, client_for

REPO = Path(__file__).resolve().parents[2]
N_KEYS = 12

# One "instance" in its own process: a payments app on the shared ledger file, driven by
# an in-process client that submits every sale once, in a shuffled order.
CHILD = r"""
import asyncio, json, random, sys, time
import httpx
from backend_stub.app import create_service_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.domain import signing

path, start_at, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
sales = json.loads(sys.stdin.read())
key_id, secret = "term-1", b"k" * 32
store = Store(path)
app = create_service_app("payments", store=store, settings=ServiceSettings(keys={key_id: secret}), build=f"p{seed}")

async def main():
    out = []
    async with httpx.AsyncClient(transport=InProcessTransport(app), base_url="http://i") as http:
        random.Random(seed).shuffle(sales)
        time.sleep(max(0.0, start_at - time.time()))
        for i, sale in enumerate(sales):
            body = json.dumps(sale["body"]).encode()
            for attempt in range(50):  # 409 = the other process holds the key: retry shortly
                h = signing.signature_headers(key_id=key_id, secret=secret, method="POST",
                    path="/payments/v2/payments", timestamp=int(time.time()), nonce=f"{seed}-{i}-{attempt}",
                    body=body)
                h.update({"Idempotency-Key": sale["key"], "Content-Type": "application/json"})
                r = await http.post("/payments/v2/payments", content=body, headers=h)
                if r.status_code != 409:
                    break
                await asyncio.sleep(0.02)
            out.append({"key": sale["key"], "status": r.status_code, "payment_id": r.json().get("payment_id"),
                        "replayed": r.headers.get("idempotent-replayed") == "true"})
    print(json.dumps(out))

asyncio.run(main())
store.close()
"""


async def test_two_processes_on_one_ledger_charge_each_key_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    store = Store(db)
    clock = FakeClock(time.time())
    settings = ServiceSettings(keys={KEY_ID: SECRET})
    sales = []
    async with client_for(create_app(store=store, settings=settings)) as http:
        api = Api(http, clock)
        for i in range(N_KEYS):
            q = await api.quote_v2(fiat_minor=1000 + i)
            body = {
                "quote_id": q["quote_id"],
                "reference": f"xp-{i}",
                "asset": "BTC",
                "amount_minor": q["crypto_minor"],
                "payload": "x",
            }
            sales.append({"key": f"key-{i}", "body": body})
    start_at = time.time() + 1.5  # both children are importing by then; they start together
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(start_at), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for seed in (1, 2)
    ]
    results: list[dict[str, Any]] = []
    for child in children:
        out, err = child.communicate(json.dumps(sales), timeout=60)
        assert child.returncode == 0, err
        results += json.loads(out)
    assert len(results) == 2 * N_KEYS
    assert all(r["status"] == 201 for r in results), results
    by_key: dict[str, set[str]] = {}
    for r in results:
        by_key.setdefault(r["key"], set()).add(r["payment_id"])
    assert all(len(ids) == 1 for ids in by_key.values()), by_key
    assert sum(r["replayed"] for r in results) == N_KEYS  # exactly one of each pair did the work
    assert store.count("payments") == N_KEYS
    store.close()


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
            quote = await client.quote(Money.parse("3.00", "EUR"), asset("BTC"))
            with pytest.raises(OutcomeUnknownError):
                await client.create_payment(
                    quote=quote,
                    reference="real-2",
                    payload="cryptopos-test:card:unknown",
                    idempotency_key="i-2",
                )
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

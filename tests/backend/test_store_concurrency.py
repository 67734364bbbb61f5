"""Real concurrent processes on one ledger, SQLite and PostgreSQL: every idempotency key charged
once when instances claim it at the same moment, a Bolt Card tap counter accepted once when
copies of one tap reach several instances at once, refunds of one payment racing on several
instances never adding up to more than the payment, and racing payments to one invoice all
counted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from terminal.domain.payloads.boltcard import encrypt_sun
from tests.pg import Ledger

from .conftest import KEY_ID, SECRET, Api, FakeClock, client_for

REPO = Path(__file__).resolve().parents[2]
UID = bytes.fromhex("04A1B2C3D4E5F6")
K1 = bytes.fromhex("0c3b25d92b38ae443229dd59ad34b85d")
K2 = bytes.fromhex("b45775776cb224c75bcde7ca3704e933")

# One instance in its own process: a payments app on the ledger in CRYPTOPOS_STORE_URL. Each
# round starts at the same wall-clock moment in every process; a 409 (another process holds
# the key) is retried shortly. A request is a POST of "body" to "path" (a new payment unless
# given), with "key" as its Idempotency-Key (none if null).
CHILD = r"""
import asyncio, json, os, sys, time
import httpx
from backend_stub.app import create_service_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.domain import signing

start_at, seed = float(sys.argv[1]), int(sys.argv[2])
rounds = json.loads(sys.stdin.read())
key_id, secret = "term-1", b"k" * 32
store = Store(os.environ["CRYPTOPOS_STORE_URL"])
app = create_service_app("payments", store=store, settings=ServiceSettings(keys={key_id: secret}), build=f"p{seed}")

async def send(http, sale, nonce):
    body = json.dumps(sale["body"]).encode()
    path = sale.get("path", "/payments/v2/payments")
    for attempt in range(100):
        h = signing.signature_headers(key_id=key_id, secret=secret, method="POST",
            path=path, timestamp=int(time.time()), nonce=f"{nonce}-{attempt}", body=body)
        h["Content-Type"] = "application/json"
        if sale["key"] is not None:
            h["Idempotency-Key"] = sale["key"]
        r = await http.post(path, content=body, headers=h)
        if r.status_code != 409:
            return r
        await asyncio.sleep(0.01)
    return r

async def main():
    out = []
    async with httpx.AsyncClient(transport=InProcessTransport(app), base_url="http://i") as http:
        for n, sales in enumerate(rounds):
            time.sleep(max(0.0, start_at + n * 0.25 - time.time()))
            rs = await asyncio.gather(*(send(http, s, f"{seed}-{n}-{i}") for i, s in enumerate(sales)))
            for s, r in zip(sales, rs):
                d = r.json()
                out.append({"key": s["key"], "status": r.status_code, "payment_id": d.get("payment_id"),
                            "outcome": d.get("status"), "reason": d.get("reason"), "type": d.get("type"),
                            "replayed": r.headers.get("idempotent-replayed") == "true"})
    print(json.dumps(out))

asyncio.run(main())
store.close()
"""


def run_children(ledger: Ledger, rounds_per_child: list[list[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    start_at = time.time() + 2.0  # every child is importing by then; they start together
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(start_at), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=ledger.env(),
        )
        for seed in range(len(rounds_per_child))
    ]
    results: list[dict[str, Any]] = []
    for child, rounds in zip(children, rounds_per_child, strict=True):
        out, err = child.communicate(json.dumps(rounds), timeout=120)
        assert child.returncode == 0, err
        results += json.loads(out)
    return results


async def quotes(ledger: Ledger, n: int, *, asset: str = "BTC") -> list[dict[str, Any]]:
    store = ledger.open()
    try:
        async with client_for(
            create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}))
        ) as http:
            api = Api(http, FakeClock(time.time()))
            return [await api.quote_v2(fiat_minor=1000 + i, asset=asset) for i in range(n)]
    finally:
        store.close()


def body(q: dict[str, Any], reference: str, payload: str) -> dict[str, Any]:
    return {
        "quote_id": q["quote_id"],
        "reference": reference,
        "asset": q["asset"],
        "amount_minor": q["crypto_minor"],
        "payload": payload,
    }


async def test_three_instances_claiming_the_same_keys_at_once_charge_each_key_once(
    ledger_spec: Ledger,
) -> None:
    n_keys, n_proc = 10, 3
    qs = await quotes(ledger_spec, n_keys)
    sales = [{"key": f"key-{i}", "body": body(q, f"xp-{i}", "x")} for i, q in enumerate(qs)]
    # every process sends every key in the same round, in its own order
    rounds = [[[*sales[p:], *sales[:p]]] for p in range(n_proc)]
    results = run_children(ledger_spec, rounds)
    assert len(results) == n_proc * n_keys
    assert all(r["status"] == 201 for r in results), results
    by_key: dict[str, set[str]] = {}
    for r in results:
        by_key.setdefault(r["key"], set()).add(r["payment_id"])
    assert all(len(ids) == 1 for ids in by_key.values()), by_key
    assert sum(not r["replayed"] for r in results) == n_keys  # exactly one did the work per key
    store = ledger_spec.open()
    try:
        assert store.count("payments") == n_keys
        assert {r["state"] for r in store.fetch_all("SELECT state FROM idempotency")} == {"done"}
    finally:
        store.close()


async def test_copies_of_one_bolt_card_tap_racing_on_several_instances_are_accepted_once(
    ledger_spec: Ledger,
) -> None:
    n_rounds, n_proc = 6, 3
    store = ledger_spec.open()
    store.add_card(UID.hex(), k1=K1, k2=K2, now=time.time())
    store.close()
    qs = await quotes(ledger_spec, n_rounds * n_proc, asset="BTC-LN")
    rounds_per_child: list[list[list[dict[str, Any]]]] = [[] for _ in range(n_proc)]
    for n in range(n_rounds):
        p, c = encrypt_sun(UID, 10 + n, k1=K1, k2=K2)  # one genuine tap per round...
        tap = f"lnurlw://pay.cryptopos.test/w?p={p}&c={c}"
        for i in range(n_proc):  # ...whose copies reach every instance at once, as separate sales
            q = qs[n * n_proc + i]
            rounds_per_child[i].append([{"key": f"tap-{n}-{i}", "body": body(q, f"tap-{n}-{i}", tap)}])
    results = run_children(ledger_spec, rounds_per_child)
    assert all(r["status"] == 201 for r in results), results
    for n in range(n_rounds):
        outcomes = sorted((r["outcome"], r["reason"]) for r in results if r["key"].startswith(f"tap-{n}-"))
        assert outcomes == [("approved", None)] + [("declined", "replayed_tap")] * (n_proc - 1), outcomes
    store = ledger_spec.open()
    try:
        row = store.fetch_one("SELECT counter FROM cards")
        assert row is not None and row["counter"] == 10 + n_rounds - 1
    finally:
        store.close()


async def test_refunds_of_one_payment_racing_on_several_instances_never_exceed_it(
    ledger_spec: Ledger,
) -> None:
    n_proc, per_proc = 3, 4
    store = ledger_spec.open()
    try:
        async with client_for(
            create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}))
        ) as http:
            api = Api(http, FakeClock(time.time()))
            q = await api.quote_v2(fiat_minor=5000)
            paid = (await api.pay_v2(q, key="pay-1", reference="refund-race")).json()
    finally:
        store.close()
    assert paid["status"] == "approved"
    amount = int(paid["amount_minor"])
    part = amount // 5
    fits = amount // part  # refunds that fit (5); the processes ask for 12 at once
    assert 0 < fits < n_proc * per_proc
    path = f"/payments/v2/payments/{paid['payment_id']}/refunds"
    to = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    rounds = [
        [
            [
                {"key": f"rf-{p}-{i}", "path": path, "body": {"amount_minor": str(part), "to": to}}
                for i in range(per_proc)
            ]
        ]
        for p in range(n_proc)
    ]
    results = run_children(ledger_spec, rounds)
    codes = sorted(r["status"] for r in results)
    assert codes == [201] * fits + [422] * (n_proc * per_proc - fits), results
    assert {r["type"] for r in results if r["status"] == 422} == {
        "https://cryptopos.dev/problems/refund-exceeds-payment"
    }
    store = ledger_spec.open()
    try:
        rows = store.fetch_all("SELECT amount_minor FROM refunds WHERE payment_id = ?", (paid["payment_id"],))
        refunded = store.fetch_one(
            "SELECT refunded_minor FROM payments WHERE payment_id = ?", (paid["payment_id"],)
        )
    finally:
        store.close()
    assert sum(int(r["amount_minor"]) for r in rows) == fits * part <= amount
    assert refunded is not None and int(refunded["refunded_minor"]) == fits * part


async def test_payments_to_one_invoice_racing_on_several_instances_are_all_counted(
    ledger_spec: Ledger,
) -> None:
    n_proc, per_proc = 3, 4
    store = ledger_spec.open()
    try:
        async with client_for(
            create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}))
        ) as http:
            api = Api(http, FakeClock(time.time()))
            q = await api.quote_v2(fiat_minor=5000)
            r = await api.post(
                "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": "inv-race", "kind": "bip21"}
            )
            assert r.status_code == 201, r.text
            inv = r.json()
    finally:
        store.close()
    path = f"/payments/v2/invoices/{inv['invoice_id']}/simulate"
    rounds = [
        [[{"key": None, "path": path, "body": {"amount_minor": "1"}} for _ in range(per_proc)]]
        for _ in range(n_proc)
    ]
    results = run_children(ledger_spec, rounds)
    assert all(r["status"] == 200 for r in results), results
    store = ledger_spec.open()
    try:
        row = store.fetch_one(
            "SELECT received_minor, status FROM invoices WHERE invoice_id = ?", (inv["invoice_id"],)
        )
    finally:
        store.close()
    assert row is not None
    assert (int(row["received_minor"]), row["status"]) == (n_proc * per_proc, "partially_paid")  # none lost

"""Idempotency: replay, reuse with another body, in-flight duplicates, across instances."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from backend_stub.app import create_service_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store

from .conftest import OTHER_KEY_ID, OTHER_SECRET, Api, FakeClock, client_for, problem_type


async def test_same_key_same_body_replays_the_stored_response(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    first = await api.pay_v2(q, key="k-1")
    again = await api.pay_v2(q, key="k-1")
    assert first.status_code == again.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert store.count("payments") == 1


async def test_same_key_other_body_is_422(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    assert (await api.pay_v2(q, key="k-1", reference="a")).status_code == 201
    r = await api.pay_v2(q, key="k-1", reference="b")
    assert (r.status_code, problem_type(r)) == (422, "idempotency-key-reused")
    assert store.count("payments") == 1


async def test_body_spacing_does_not_make_another_request(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    body = {
        "quote_id": q["quote_id"],
        "reference": "s",
        "asset": "BTC",
        "amount_minor": q["crypto_minor"],
        "payload": "x",
    }
    import json

    compact = json.dumps(body, separators=(",", ":")).encode()
    spaced = json.dumps(dict(reversed(body.items())), indent=2).encode()
    h = {"Idempotency-Key": "k-sp"}
    a = await api.request("POST", "/payments/v2/payments", raw=compact, headers=h)
    b = await api.request("POST", "/payments/v2/payments", raw=spaced, headers=h)
    assert (a.status_code, b.status_code) == (201, 201)
    assert b.headers["idempotent-replayed"] == "true"


async def test_v2_requires_the_key(api: Api) -> None:
    q = await api.quote_v2()
    body = {"quote_id": q["quote_id"], "reference": "r", "asset": "BTC", "amount_minor": "1", "payload": "x"}
    r = await api.post("/payments/v2/payments", body)
    assert (r.status_code, problem_type(r)) == (400, "idempotency-key-required")


async def test_concurrent_duplicate_gets_409_and_one_charge(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    slow = "cryptopos-test:card:slow"  # holds the key in flight for settings.slow_s (0.3 s)
    first = asyncio.create_task(api.pay_v2(q, key="k-c", payload=slow))
    await asyncio.sleep(0.1)
    dup = await api.pay_v2(q, key="k-c", payload=slow)
    assert (dup.status_code, problem_type(dup)) == (409, "idempotency-in-flight")
    assert dup.headers["retry-after"] == "1"
    assert (await first).status_code == 201
    later = await api.pay_v2(q, key="k-c", payload=slow)
    assert later.headers["idempotent-replayed"] == "true"
    assert store.count("payments") == 1


async def test_keys_are_per_terminal(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    assert (await api.pay_v2(q, key="same", reference="t1")).status_code == 201
    api.key_id, api.secret = OTHER_KEY_ID, OTHER_SECRET
    q2 = await api.quote_v2()
    r = await api.pay_v2(q2, key="same", reference="t2")
    assert r.status_code == 201
    assert "idempotent-replayed" not in r.headers
    assert store.count("payments") == 2


async def test_a_deterministic_4xx_is_replayed_too(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    q_bad = {**q, "crypto_minor": str(int(q["crypto_minor"]) - 1)}
    a = await api.pay_v2(q_bad, key="k-4xx")
    b = await api.pay_v2(q_bad, key="k-4xx")
    assert (a.status_code, problem_type(a)) == (422, "amount-mismatch")
    assert (b.status_code, b.headers["idempotent-replayed"]) == (422, "true")
    assert store.count("payments") == 0


async def test_retry_on_another_instance_and_build_dedupes(
    store: Store, settings: ServiceSettings, clock: FakeClock
) -> None:
    rates = create_service_app("rates", store=store, settings=settings)
    pay_a = create_service_app("payments", store=store, settings=settings, build="1.4.0")
    pay_b = create_service_app("payments", store=store, settings=settings, build="1.5.0")
    async with client_for(rates) as hr, client_for(pay_a) as ha, client_for(pay_b) as hb:
        q = await Api(hr, clock).quote_v2()
        a = await Api(ha, clock).pay_v2(q, key="k-x")
        b = await Api(hb, clock).pay_v2(q, key="k-x")
    assert a.headers["x-cp-build"] == "1.4.0" and b.headers["x-cp-build"] == "1.5.0", b.text
    assert b.headers.get("idempotent-replayed") == "true", (a.text, b.text)
    assert b.json()["payment_id"] == a.json()["payment_id"]
    assert store.count("payments") == 1


async def test_unknown_outcome_commits_then_drops_and_a_retry_replays(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    with pytest.raises(httpx.ReadError):
        await api.pay_v2(q, key="k-u", payload="cryptopos-test:card:unknown")
    assert store.count("payments") == 1  # committed although the answer was lost
    again = await api.pay_v2(q, key="k-u", payload="cryptopos-test:card:unknown")
    assert (again.status_code, again.json()["status"]) == (201, "approved")
    assert again.headers["idempotent-replayed"] == "true"
    assert store.count("payments") == 1


def test_lease_takeover_in_the_store(store: Store) -> None:
    assert store.begin_idempotent("s", "k", "fp", now=100.0, lease_s=30).outcome == "started"
    assert store.begin_idempotent("s", "k", "fp", now=110.0, lease_s=30).outcome == "in_flight"
    assert store.begin_idempotent("s", "k", "other", now=110.0, lease_s=30).outcome == "mismatch"
    assert store.begin_idempotent("s", "k", "fp", now=131.0, lease_s=30).outcome == "started"
    store.finish_idempotent("s", "k", 201, {"ok": True})
    got = store.begin_idempotent("s", "k", "fp", now=500.0, lease_s=30)
    assert (got.outcome, got.status_code, got.body) == ("replay", 201, {"ok": True})


def test_close_ends_the_connections_of_every_thread(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3
    import threading

    from backend_stub.store import StoreError

    s = Store(tmp_path / "c.sqlite3")
    conns: list[sqlite3.Connection] = []
    t = threading.Thread(target=lambda: s.query(lambda tx: conns.append(tx.conn)))  # type: ignore[attr-defined]
    t.start()
    t.join()
    s.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conns[0].execute("SELECT 1")
    with pytest.raises(StoreError, match="closed"):
        s.fetch_all("SELECT 1")

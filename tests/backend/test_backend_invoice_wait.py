"""Invoice long-poll (issue 11 item 3): `GET .../invoices/{id}?wait=N&after=V` holds the request
until the invoice changes, cheaply, and never longer than the instance's limit."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from backend_stub.app import create_app, create_service_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store

from .conftest import KEY_ID, SECRET, Api, FakeClock, client_for, problem_type


async def new_invoice(api: Api, reference: str = "inv-1") -> dict[str, Any]:
    q = await api.quote_v2(fiat_minor=2500, asset="BTC")
    r = await api.post(
        "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": reference, "kind": "bip21"}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def waiting(inv: dict[str, Any], wait: int) -> str:
    return f"/payments/v2/invoices/{inv['invoice_id']}?wait={wait}&after={inv['version']}"


async def pay_later(api: Api, inv: dict[str, Any], delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    r = await api.post(
        f"/payments/v2/invoices/{inv['invoice_id']}/simulate", {"amount_minor": inv["amount_minor"]}
    )
    assert r.status_code == 200, r.text


def app_with(store: Store, clock: FakeClock, **settings: Any) -> Any:
    return create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}, clock=clock, **settings))


async def test_discovery_advertises_the_long_poll_on_payments_v2_only(
    api: Api, store: Store, clock: FakeClock
) -> None:
    doc = (await api.get("/discovery", sign=False)).json()
    flags = {
        (service, v["version"]): v["capabilities"]
        for service, s in doc["services"].items()
        for v in s["versions"]
    }
    assert flags == {
        ("rates", "v1"): [],
        ("rates", "v2"): [],
        ("payments", "v1"): [],
        ("payments", "v2"): ["invoice-wait"],
    }
    async with client_for(app_with(store, clock, invoice_wait_max_s=0)) as http:
        off = (await http.get("/discovery")).json()
    assert all(v["capabilities"] == [] for s in off["services"].values() for v in s["versions"])


async def test_every_answer_carries_a_version_that_changes_with_the_invoice(api: Api) -> None:
    inv = await new_invoice(api)
    again = (await api.get(f"/payments/v2/invoices/{inv['invoice_id']}")).json()
    assert again["version"] == inv["version"]
    await pay_later(api, {**inv, "amount_minor": "1"}, 0)  # a partial payment
    partial = (await api.get(f"/payments/v2/invoices/{inv['invoice_id']}")).json()
    assert partial["status"] == "partially_paid" and partial["version"] != inv["version"]


async def test_a_payment_in_this_instance_wakes_the_waiting_request_at_once(
    store: Store, clock: FakeClock
) -> None:
    # a recheck interval far beyond the wait: only the in-process notification can answer early
    async with client_for(app_with(store, clock, invoice_recheck_s=60.0)) as http:
        api = Api(http, clock)
        inv = await new_invoice(api)
        started = time.monotonic()
        r, _ = await asyncio.gather(api.get(waiting(inv, 4)), pay_later(api, inv, 0.2))
        held = time.monotonic() - started
    doc = r.json()
    assert (doc["status"], doc["payment_status"]) == ("paid", "approved")
    assert doc["version"] != inv["version"]
    assert held < 3.0, held  # answered on the change, not at the end of the 4 s wait
    assert 0.1 < float(r.headers["x-cp-waited"]) < 3.0


async def test_a_change_by_another_instance_is_seen_by_the_recheck(store: Store, clock: FakeClock) -> None:
    settings = ServiceSettings(keys={KEY_ID: SECRET}, clock=clock, invoice_recheck_s=0.2)
    one = create_service_app("payments", store=store, settings=settings)
    two = create_service_app("payments", store=store, settings=settings)
    rates = create_service_app("rates", store=store, settings=settings)
    async with client_for(one) as h1, client_for(two) as h2, client_for(rates) as hr:
        q = (
            await Api(hr, clock).post(
                "/rates/v2/quotes", {"fiat_minor": 2500, "fiat_currency": "EUR", "asset": "BTC"}
            )
        ).json()
        r = await Api(h1, clock).post(
            "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": "x", "kind": "bip21"}
        )
        inv = r.json()
        started = time.monotonic()
        r, _ = await asyncio.gather(Api(h1, clock).get(waiting(inv, 4)), pay_later(Api(h2, clock), inv, 0.3))
        held = time.monotonic() - started
    assert r.json()["status"] == "paid"
    assert held < 3.0, held


async def test_an_unchanged_invoice_is_answered_after_the_wait_as_it_is(api: Api) -> None:
    inv = await new_invoice(api)
    started = time.monotonic()
    r = await api.get(waiting(inv, 1))
    held = time.monotonic() - started
    assert r.status_code == 200 and r.json() == inv
    assert held >= 0.9, held


async def test_the_wait_is_capped_by_the_instance_below_the_gateway_timeout(
    store: Store, clock: FakeClock
) -> None:
    async with client_for(app_with(store, clock, invoice_wait_max_s=0.5)) as http:
        api = Api(http, clock)
        inv = await new_invoice(api)
        started = time.monotonic()
        r = await api.get(waiting(inv, 60))
        held = time.monotonic() - started
    assert r.status_code == 200 and 0.4 < held < 3.0, held
    assert ServiceSettings().invoice_wait_max_s < 5.0  # config/backend.toml per_try_timeout_s


async def test_a_stale_version_or_no_version_is_answered_at_once(api: Api) -> None:
    inv = await new_invoice(api)
    started = time.monotonic()
    stale = await api.get(f"/payments/v2/invoices/{inv['invoice_id']}?wait=30&after=0123456789abcdef")
    plain = await api.get(f"/payments/v2/invoices/{inv['invoice_id']}?wait=30")
    assert time.monotonic() - started < 1.0
    assert stale.json() == plain.json() == inv
    assert "x-cp-waited" not in stale.headers


async def test_expiry_during_the_wait_ends_it(store: Store, clock: FakeClock) -> None:
    async with client_for(app_with(store, clock, invoice_recheck_s=0.1)) as http:
        api = Api(http, clock)
        inv = await new_invoice(api)

        async def expire() -> None:
            await asyncio.sleep(0.3)
            clock.advance(3600)

        r, _ = await asyncio.gather(api.get(waiting(inv, 4)), expire())
    assert (r.json()["status"], r.json()["payment_status"]) == ("expired", "declined")


async def test_a_held_request_rereads_the_ledger_about_once_per_recheck_not_in_a_loop(
    store: Store, clock: FakeClock
) -> None:
    async with client_for(app_with(store, clock, invoice_recheck_s=0.25)) as http:
        api = Api(http, clock)
        inv = await new_invoice(api)
        reads = 0
        query = store.query

        def counting(fn: Any) -> Any:
            nonlocal reads
            reads += 1
            return query(fn)

        store.query = counting  # type: ignore[method-assign]
        try:
            r = await api.get(waiting(inv, 2))
        finally:
            store.query = query  # type: ignore[method-assign]
    assert r.json()["version"] == inv["version"]
    assert 4 <= reads <= 12, reads  # 2 s / 0.25 s = 8 rechecks, plus the first look and the key's


@pytest.mark.parametrize("query", ["wait=-1", "wait=61", "wait=1.5", "wait=x", "after=XYZ", "after=%00"])
async def test_bad_wait_parameters_are_refused(api: Api, query: str) -> None:
    inv = await new_invoice(api)
    r = await api.get(f"/payments/v2/invoices/{inv['invoice_id']}?{query}")
    assert r.status_code == 422 and problem_type(r) in {"invalid-parameter", "validation"}, r.text

"""Staff and the refund policy on the wire (payments v2, the only version with refunds), through
the app and through the gateway: the roster, a manager's PIN for the till's step-ups and its
lockout, and refunds that need an approval, fall outside the window or the daily limit. The PIN
never reaches the idempotency records, and an approval refusal is not stored under the key."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.cluster import ManualClock
from backend_stub.deployment import Deployment
from backend_stub.embedded import embedded_topology, make_transport
from backend_stub.settings import PolicyError, RefundPolicy, ServiceSettings
from backend_stub.store import Store
from terminal.domain import signing
from tests.support import shows

from .conftest import KEY_ID, OTHER_KEY_ID, OTHER_SECRET, SECRET, Api, FakeClock, client_for, problem_type

TO = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
MANAGER = {"staff_id": "s_max", "name": "Max Manager", "role": "manager", "pin": "1357"}
CASHIER = {"staff_id": "s_cass", "name": "Cass", "role": "cashier", "pin": "2468"}
DAY_S = 86_400

MakeApi = Callable[..., Any]


@pytest.fixture(params=["app", "gateway"])
def make_api(request: pytest.FixtureRequest, store: Store, clock: FakeClock) -> Callable[..., Any]:
    """``async with make_api(policy) as api``: the payments API on the test's ledger with that
    refund policy (the contract's default, an approval for every refund, unless given); each test
    runs against the app and again through the gateway of an in-process deployment (its edge
    checks the signature, then an instance answers), as a till reaches it."""

    @asynccontextmanager
    async def make(policy: RefundPolicy | None = None, **settings: Any) -> AsyncIterator[Api]:
        s = ServiceSettings(
            keys={KEY_ID: SECRET, OTHER_KEY_ID: OTHER_SECRET},
            clock=clock,
            refunds=policy or RefundPolicy(),
            **settings,
        )
        if request.param == "app":
            async with client_for(create_app(store=store, settings=s)) as http:
                yield Api(http, clock)
            return
        d = Deployment.in_process(embedded_topology(), store=store, settings=s, clock=ManualClock())
        await d.start()
        try:
            async with client_for(d.gateway) as http:
                yield Api(http, clock)
        finally:
            await d.aclose()

    return make


async def sale(
    api: Api, fiat_minor: int = 1250, currency: str = "EUR", *, key: str = "pay"
) -> dict[str, Any]:
    q = await api.quote_v2(fiat_minor=fiat_minor, currency=currency)
    r = await api.pay_v2(q, key=key, reference=key)
    assert r.status_code == 201 and r.json()["status"] == "approved", r.text
    return dict(r.json())


async def refund(
    api: Api, payment: dict[str, Any], *, key: str, amount: str | None = None, **extra: Any
) -> httpx.Response:
    body = {"amount_minor": amount or payment["amount_minor"], "to": TO, **extra}
    return await api.post(
        f"/payments/v2/payments/{payment['payment_id']}/refunds", body, headers={"Idempotency-Key": key}
    )


async def add(api: Api, member: dict[str, str]) -> None:
    r = await api.post("/payments/v2/test/staff", member)
    assert r.status_code == 201, r.text
    assert "pin" not in r.json()


async def verify(api: Api, staff_id: str, pin: str, purpose: str = "settings") -> httpx.Response:
    return await api.post("/payments/v2/staff/verify", {"staff_id": staff_id, "pin": pin, "purpose": purpose})


# -- roster and verify ---------------------------------------------------------------------


async def test_the_roster_shows_ids_names_roles_and_disabled_never_a_pin(make_api: MakeApi) -> None:
    async with make_api() as api:
        await add(api, MANAGER)
        await add(api, CASHIER)
        r = await api.get("/payments/v2/staff")
        assert r.status_code == 200
        assert r.json() == {
            "items": [
                {"staff_id": "s_cass", "name": "Cass", "role": "cashier", "disabled": False},
                {"staff_id": "s_max", "name": "Max Manager", "role": "manager", "disabled": False},
            ]
        }
        assert "scrypt" not in r.text and not shows("1357", r.text)
        unsigned = await api.get("/payments/v2/staff", sign=False)
        assert unsigned.status_code == 401


async def test_verify_accepts_an_enabled_managers_pin_and_refuses_everything_else_alike(
    make_api: MakeApi, store: Store
) -> None:
    async with make_api() as api:
        await add(api, MANAGER)
        await add(api, CASHIER)
        for purpose in ("sign-in", "settings", "cancel", "offline"):
            r = await verify(api, "s_max", "1357", purpose)
            assert (r.status_code, r.json()) == (
                200,
                {"staff_id": "s_max", "name": "Max Manager", "role": "manager"},
            )
        refusals = [
            await verify(api, "s_max", "7531"),  # wrong PIN
            await verify(api, "s_nobody", "1357"),  # unknown
            await verify(api, "s_cass", "2468"),  # a cashier's right PIN
        ]
        store.transaction(lambda tx: tx.execute("UPDATE staff SET disabled_at = 1 WHERE staff_id = 's_max'"))
        refusals.append(await verify(api, "s_max", "1357"))  # disabled
        docs = [(r.status_code, problem_type(r), r.json()["detail"]) for r in refusals]
        assert len(set(docs)) == 1 and docs[0][:2] == (403, "approval-invalid")
        for r in refusals:
            assert not shows("1357", r.text) and not shows("7531", r.text)
        bad = await api.post(
            "/payments/v2/staff/verify", {"staff_id": "s_max", "pin": "13a7", "purpose": "x"}
        )
        assert bad.status_code == 422 and "13a7" not in bad.text


async def test_five_wrong_pins_lock_the_manager_with_retry_after_then_doubling(
    make_api: MakeApi, clock: FakeClock
) -> None:
    async with make_api() as api:
        await add(api, MANAGER)
        codes = [problem_type(await verify(api, "s_max", "0000")) for _ in range(5)]
        assert codes == ["approval-invalid"] * 4 + ["approver-locked"]
        r = await verify(api, "s_max", "1357")  # right, but locked: not even looked at
        assert (r.status_code, problem_type(r), r.headers["Retry-After"]) == (403, "approver-locked", "30")
        assert r.json()["locked_until"] == "2026-11-26T12:00:30.000Z"
        clock.advance(31)
        r = await verify(api, "s_max", "0000")
        assert problem_type(r) == "approver-locked" and r.headers["Retry-After"] == "60"
    async with make_api() as api:  # another instance on the same ledger: the same lock
        r = await verify(api, "s_max", "1357")
        assert problem_type(r) == "approver-locked"
        clock.advance(61)
        assert (await verify(api, "s_max", "1357")).status_code == 200
        assert problem_type(await verify(api, "s_max", "0000")) == "approval-invalid"  # the count restarted


async def test_test_staff_is_off_outside_test_mode(make_api: MakeApi) -> None:
    async with make_api(test_mode=False) as api:
        r = await api.post("/payments/v2/test/staff", MANAGER)
        assert (r.status_code, problem_type(r)) == (404, "not-found")


# -- refunds and the policy ------------------------------------------------------------------


async def test_every_refund_needs_an_approval_by_default_and_the_refusal_is_not_stored(
    make_api: MakeApi, store: Store
) -> None:
    async with make_api() as api:
        await add(api, MANAGER)
        paid = await sale(api)
        r = await refund(api, paid, key="rf-1", staff_id="s_cass")
        assert (r.status_code, problem_type(r)) == (403, "approval-required")
        assert (r.json()["threshold_minor"], r.json()["currency"]) == (0, "EUR")
        r = await refund(
            api, paid, key="rf-1", staff_id="s_cass", approval={"staff_id": "s_max", "pin": "0000"}
        )
        assert (r.status_code, problem_type(r)) == (403, "approval-invalid")
        assert store.count("refunds") == 0
        # the same key again with the right PIN: worked anew, not a replay of a refusal
        r = await refund(
            api, paid, key="rf-1", staff_id="s_cass", approval={"staff_id": "s_max", "pin": "1357"}
        )
        assert r.status_code == 201, r.text
        doc = r.json()
        assert (doc["requested_by"], doc["approved_by"]) == ("s_cass", "s_max")
        # a resend with another PIN is the same request (the PIN is not part of it): replayed
        again = await refund(
            api, paid, key="rf-1", staff_id="s_cass", approval={"staff_id": "s_max", "pin": "9999"}
        )
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == doc
        row = store.fetch_one("SELECT requested_by, approved_by, fiat_minor, terminal_id FROM refunds", ())
        assert row is not None and dict(row) == {
            "requested_by": "s_cass",
            "approved_by": "s_max",
            "fiat_minor": 1250,
            "terminal_id": KEY_ID,
        }
        kept = json.dumps([dict(r) for r in store.fetch_all("SELECT * FROM idempotency", ())])
        digests = {hashlib.sha256(p.encode()).hexdigest() for p in ("1357", "0000", "9999")}
        assert not shows("1357", kept) and not any(d in kept for d in digests)


async def test_a_cashiers_pin_or_a_disabled_manager_does_not_approve_and_wrong_pins_lock(
    make_api: MakeApi, store: Store
) -> None:
    async with make_api() as api:
        await add(api, MANAGER)
        await add(api, CASHIER)
        paid = await sale(api)
        r = await refund(api, paid, key="c", approval={"staff_id": "s_cass", "pin": "2468"})
        assert problem_type(r) == "approval-invalid"
        codes = [
            problem_type(await refund(api, paid, key=f"w{i}", approval={"staff_id": "s_max", "pin": "0000"}))
            for i in range(5)
        ]
        assert codes == ["approval-invalid"] * 4 + ["approver-locked"]
        r = await refund(api, paid, key="right", approval={"staff_id": "s_max", "pin": "1357"})
        assert problem_type(r) == "approver-locked" and int(r.headers["Retry-After"]) == 30
        assert problem_type(await verify(api, "s_max", "1357")) == "approver-locked"  # one counter
        await add(api, MANAGER)  # made anew (test mode): enabled, count cleared
        store.transaction(lambda tx: tx.execute("UPDATE staff SET disabled_at = 1 WHERE staff_id = 's_max'"))
        r = await refund(api, paid, key="d", approval={"staff_id": "s_max", "pin": "1357"})
        assert problem_type(r) == "approval-invalid"
        assert store.count("refunds") == 0 and store.count("idempotency") == 1  # the payment's only


async def test_below_the_threshold_no_approval_above_it_one_and_unlisted_currencies_always(
    make_api: MakeApi,
) -> None:
    policy = RefundPolicy.from_config({"approval_above": {"EUR": "10.00", "JPY": "1000"}})
    async with make_api(policy) as api:
        await add(api, MANAGER)
        small, big = await sale(api, 1000, key="small"), await sale(api, 1001, key="big")
        assert (await refund(api, small, key="s")).status_code == 201  # exactly the threshold
        r = await refund(api, big, key="b")
        assert (problem_type(r), r.json()["threshold_minor"]) == ("approval-required", 1000)
        # a part of it worth 10.00 needs none: ceil(1001 * part / amount) <= 1000
        part = int(big["amount_minor"]) * 1000 // 1001
        assert (await refund(api, big, key="b-part", amount=str(part))).status_code == 201
        usd = await sale(api, 100, "USD", key="usd")  # no USD entry: always an approval
        r = await refund(api, usd, key="u")
        assert (problem_type(r), r.json()["currency"], r.json()["threshold_minor"]) == (
            "approval-required",
            "USD",
            0,
        )
        ok = await refund(api, usd, key="u2", approval={"staff_id": "s_max", "pin": "1357"})
        assert ok.status_code == 201 and ok.json()["approved_by"] == "s_max"


async def test_a_refund_after_the_window_is_refused(make_api: MakeApi, clock: FakeClock) -> None:
    policy = RefundPolicy.from_config({"window_days": 7, "approval_above": {"EUR": "100.00"}})
    async with make_api(policy) as api:
        old = await sale(api, key="old")
        clock.advance(7 * DAY_S)  # the last moment of the window
        assert (await refund(api, old, key="in", amount="1")).status_code == 201
        clock.advance(1)
        r = await refund(api, old, key="late", amount="1")
        assert (r.status_code, problem_type(r)) == (409, "refund-window-closed")
        assert (r.json()["window_days"], r.json()["paid_at"]) == (7, old["created_at"])
        # stored like any business refusal: the same key is answered the same
        again = await refund(api, old, key="late", amount="1")
        assert again.headers.get("Idempotent-Replayed") == "true"


async def test_a_terminals_refunds_per_day_stay_within_its_limit(make_api: MakeApi, clock: FakeClock) -> None:
    policy = RefundPolicy.from_config(
        {"approval_above": {"EUR": "100.00"}, "daily_limit": {"EUR": "20.00", "KWD": "1.000"}}
    )
    async with make_api(policy) as api:
        a, b = await sale(api, 1250, key="a"), await sale(api, 1250, key="b")
        assert (await refund(api, a, key="ra")).status_code == 201
        r = await refund(api, b, key="rb")
        assert (r.status_code, problem_type(r)) == (409, "refund-limit-reached")
        assert {k: r.json()[k] for k in ("limit_minor", "used_minor", "currency")} == {
            "limit_minor": 2000,
            "used_minor": 1250,
            "currency": "EUR",
        }
        part = int(b["amount_minor"]) * 750 // 1250  # worth at most 7.50: fits exactly
        assert (await refund(api, b, key="rb-part", amount=str(part))).status_code == 201
        other = Api(api.http, clock, OTHER_KEY_ID, OTHER_SECRET)  # another terminal's own limit
        c = await sale(other, 1250, key="c")
        assert (await refund(other, c, key="rc")).status_code == 201
        clock.advance(DAY_S)  # a new day (of the default zone, UTC)
        assert (await refund(api, b, key="rb-next", amount="1")).status_code == 201
        kwd = await sale(api, 1001, "KWD", key="kwd")  # 1.001 KD: above its limit on its own
        r = await refund(api, kwd, key="rk", approval={"staff_id": "s_x", "pin": "1234"})
        assert problem_type(r) == "approval-invalid"  # a sent approval is checked first


async def test_the_daily_limit_counts_the_merchants_business_day(make_api: MakeApi, clock: FakeClock) -> None:
    """A Tokyo shop's day turns at 15:00 UTC: a refund at 00:10 in Tokyo is the next day's, though
    the UTC day is the same."""
    policy = RefundPolicy.from_config(
        {"approval_above": {"EUR": "100.00"}, "daily_limit": {"EUR": "20.00"}, "timezone": "Asia/Tokyo"}
    )
    clock.now = datetime(2026, 11, 26, 14, 50, tzinfo=UTC).timestamp()  # 23:50 in Tokyo
    async with make_api(policy) as api:
        a, b = await sale(api, 1250, key="a"), await sale(api, 1250, key="b")
        assert (await refund(api, a, key="ra")).status_code == 201
        r = await refund(api, b, key="rb")
        assert (r.status_code, problem_type(r)) == (409, "refund-limit-reached")
        clock.advance(20 * 60)  # 15:10 UTC, 00:10 on the 27th in Tokyo
        assert (await refund(api, b, key="rb-next")).status_code == 201


def test_the_policys_business_day_is_a_calendar_day_of_its_zone() -> None:
    berlin = RefundPolicy.from_config({"timezone": "Europe/Berlin"})
    at = datetime(2026, 10, 25, 12, 0, tzinfo=UTC).timestamp()  # the day clocks go back: 25 h
    start, end = berlin.day(at)
    assert (end - start) / 3600 == 25
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    start, end = berlin.day(datetime(2026, 3, 29, 12, 0, tzinfo=UTC).timestamp())  # 23 h
    assert (end - start) / 3600 == 23
    assert RefundPolicy.from_config({}).day(at) == (
        datetime(2026, 10, 25, tzinfo=UTC).timestamp(),
        datetime(2026, 10, 26, tzinfo=UTC).timestamp(),
    )
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "/usr/share/zoneinfo/UTC", 9, None):
        with pytest.raises(PolicyError, match="timezone"):
            RefundPolicy.from_config({"timezone": bad})


async def test_the_refund_fields_are_strict(make_api: MakeApi) -> None:
    async with make_api() as api:
        paid = await sale(api)
        for extra in (
            {"staff_id": None},
            {"approval": None},
            {"staff_id": "bad id"},
            {"approval": {"staff_id": "s_max"}},
            {"approval": {"staff_id": "s_max", "pin": "123"}},
            {"approval": {"staff_id": "s_max", "pin": 1357}},
            {"approval": {"staff_id": "s_max", "pin": "1357", "role": "manager"}},
        ):
            r = await refund(api, paid, key="strict", **extra)
            assert r.status_code == 422, (extra, r.text)
            assert not shows("1357", r.text)


# -- through the gateway: the embedded backend (the default setup) ------------------------------


async def test_the_embedded_backend_takes_the_demo_manager_and_refunds_with_an_approval() -> None:
    key_id, secret = "t_demo_01", b"demo-secret-do-not-use-in-production"
    transport = make_transport(key_id=key_id, secret=secret)
    async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as http:

        async def send(method: str, path: str, body: Any = None, key: str | None = None) -> httpx.Response:
            content = b"" if body is None else json.dumps(body).encode()
            headers = signing.signature_headers(
                key_id=key_id,
                secret=secret,
                method=method,
                path=path,
                timestamp=int(time.time()),
                nonce=secrets.token_hex(8),
                body=content,
            )
            headers["Content-Type"] = "application/json"
            if key:
                headers["Idempotency-Key"] = key
            return await http.request(method, path, content=content, headers=headers)

        r = await send("POST", "/payments/v2/test/staff", {**MANAGER, "staff_id": "s_demo_manager"})
        assert r.status_code == 201, r.text
        q = (
            await send(
                "POST", "/rates/v2/quotes", {"fiat_minor": 500, "fiat_currency": "EUR", "asset": "BTC"}
            )
        ).json()
        body = {
            "quote_id": q["quote_id"],
            "reference": "demo-1",
            "asset": "BTC",
            "amount_minor": q["crypto_minor"],
            "payload": "cryptopos-test:card:approve",
        }
        paid = (await send("POST", "/payments/v2/payments", body, key="p1")).json()
        path = f"/payments/v2/payments/{paid['payment_id']}/refunds"
        refused = await send("POST", path, {"amount_minor": paid["amount_minor"], "to": TO}, key="r1")
        assert (refused.status_code, problem_type(refused)) == (403, "approval-required")
        approval = {"staff_id": "s_demo_manager", "pin": "1357"}
        r = await send(
            "POST", path, {"amount_minor": paid["amount_minor"], "to": TO, "approval": approval}, key="r1"
        )
        assert r.status_code == 201 and r.json()["approved_by"] == "s_demo_manager", r.text
        roster = await send("GET", "/payments/v2/staff")
        assert [m["staff_id"] for m in roster.json()["items"]] == ["s_demo_manager"]
    await transport.aclose()

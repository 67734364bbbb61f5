"""Payments v1 and v2: outcomes, test mode, the ledger, inquiry by reference, refunds."""

from __future__ import annotations

from typing import Any

import pytest

from backend_stub.store import Store

from .conftest import OTHER_KEY_ID, OTHER_SECRET, Api, FakeClock, problem_type


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        ("anything-a-reader-saw", "approved", None),
        ("cryptopos-test:card:approve", "approved", None),
        ("cryptopos-test:card:decline", "declined", "card_declined"),
        ("cryptopos-test:card:insufficient", "declined", "insufficient_funds"),
        ("cryptopos-test:card:typo", "declined", "unknown_test_card"),
    ],
)
async def test_test_cards_force_outcomes(api: Api, payload: str, status: str, reason: str | None) -> None:
    q = await api.quote_v2()
    r = await api.pay_v2(q, key="k", payload=payload)
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["reason"]) == (status, reason)


@pytest.mark.parametrize(
    ("fiat_minor", "status", "reason"),
    [(4002, "declined", "card_declined"), (4003, "declined", "insufficient_funds"), (4001, "approved", None)],
)
async def test_magic_amounts_force_outcomes(
    api: Api, fiat_minor: int, status: str, reason: str | None
) -> None:
    q = await api.quote_v2(fiat_minor=fiat_minor)
    r = await api.pay_v2(q, key="k")
    assert (r.json()["status"], r.json()["reason"]) == (status, reason)


async def test_payment_v2_document(api: Api, clock: FakeClock) -> None:
    q = await api.quote_v2(fiat_minor=1250)
    p = (await api.pay_v2(q, key="k", reference="sale-42")).json()
    assert p["reference"] == "sale-42" and p["quote_id"] == q["quote_id"]
    assert (p["amount_minor"], p["fiat_minor"], p["fiat_currency"]) == (q["crypto_minor"], 1250, "EUR")
    assert isinstance(p["amount_minor"], str) and p["refunded_minor"] == "0"
    got = await api.get(f"/payments/v2/payments/{p['payment_id']}")
    assert got.json() == p


async def test_v1_payment_in_decimal_strings(api: Api) -> None:
    q = (
        await api.post("/rates/v1/quotes", {"fiat_amount": "12.50", "fiat_currency": "EUR", "asset": "BTC"})
    ).json()
    body = {
        "quote_id": q["quote_id"],
        "reference": "v1-sale",
        "asset": "BTC",
        "amount": q["crypto_amount"],
        "payload": "x",
    }
    p = (await api.post("/payments/v1/payments", body)).json()
    assert (p["amount"], p["fiat_amount"], p["status"]) == (q["crypto_amount"], "12.50", "approved")
    found = (await api.get("/payments/v1/payments?reference=v1-sale")).json()
    assert found == {"items": [p]}
    assert (await api.get("/payments/v1/payments?reference=none")).json() == {"items": []}


async def test_quote_problems(api: Api, clock: FakeClock, store: Store) -> None:
    q = await api.quote_v2()
    r = await api.pay_v2({**q, "quote_id": "q_nope"}, key="k1")
    assert (r.status_code, problem_type(r)) == (404, "unknown-quote")
    r = await api.pay_v2({**q, "crypto_minor": "1"}, key="k2")
    assert (r.status_code, problem_type(r)) == (422, "amount-mismatch")
    r = await api.pay_v2({**q, "asset": "ETH"}, key="k3")
    assert (r.status_code, problem_type(r)) == (422, "amount-mismatch")
    clock.advance(61)
    r = await api.pay_v2(q, key="k4")
    assert (r.status_code, problem_type(r)) == (409, "quote-expired")
    assert store.count("payments") == 0


async def test_duplicate_reference_names_the_payment(api: Api) -> None:
    q = await api.quote_v2()
    first = (await api.pay_v2(q, key="a", reference="dup")).json()
    r = await api.pay_v2(q, key="b", reference="dup")
    assert (r.status_code, problem_type(r)) == (409, "duplicate-reference")
    assert r.json()["payment_id"] == first["payment_id"]


async def test_a_terminal_sees_only_its_own_payments(api: Api) -> None:
    q = await api.quote_v2()
    p = (await api.pay_v2(q, key="k", reference="mine")).json()
    api.key_id, api.secret = OTHER_KEY_ID, OTHER_SECRET
    r = await api.get(f"/payments/v2/payments/{p['payment_id']}")
    assert (r.status_code, problem_type(r)) == (404, "unknown-payment")
    assert (await api.get("/payments/v2/payments?reference=mine")).json()["items"] == []
    r = await api.pay_v2(q, key="k", reference="theirs")  # the first terminal's quote
    assert (r.status_code, problem_type(r)) == (404, "unknown-quote")


async def make_sales(api: Api, clock: FakeClock, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        q = await api.quote_v2()
        payload = "cryptopos-test:card:decline" if i % 3 == 0 else "x"
        out.append((await api.pay_v2(q, key=f"k{i}", reference=f"s{i}", payload=payload)).json())
        clock.advance(10)
    return out


async def test_list_newest_first_with_cursor_and_filters(api: Api, clock: FakeClock) -> None:
    sales = await make_sales(api, clock, 7)
    seen, cursor = [], None
    while True:
        path = "/payments/v2/payments?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.get(path)).json()
        seen += [p["reference"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"s{i}" for i in reversed(range(7))]
    declined = (await api.get("/payments/v2/payments?status=declined")).json()["items"]
    assert [p["reference"] for p in declined] == ["s6", "s3", "s0"]
    since = sales[5]["created_at"]
    recent = (await api.get(f"/payments/v2/payments?since={since}")).json()["items"]
    assert [p["reference"] for p in recent] == ["s6", "s5"]
    by_ref = (await api.get("/payments/v2/payments?reference=s4")).json()["items"]
    assert [p["payment_id"] for p in by_ref] == [sales[4]["payment_id"]]


async def test_list_rejects_bad_parameters(api: Api) -> None:
    for query in ("limit=0", "limit=101", "status=weird", "cursor=%21%21", "since=yesterday"):
        r = await api.get(f"/payments/v2/payments?{query}")
        assert r.status_code == 422, query
        assert problem_type(r) in {"validation", "invalid-parameter"}


async def test_refunds_partial_then_rest_then_too_much(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    p = (await api.pay_v2(q, key="k")).json()
    total = int(p["amount_minor"])
    url = f"/payments/v2/payments/{p['payment_id']}/refunds"
    to = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    r1 = await api.post(url, {"amount_minor": "1000", "to": to}, headers={"Idempotency-Key": "r1"})
    assert r1.status_code == 201
    assert r1.json()["amount_minor"] == "1000" and r1.json()["status"] == "completed"
    again = await api.post(url, {"amount_minor": "1000", "to": to}, headers={"Idempotency-Key": "r1"})
    assert again.headers["idempotent-replayed"] == "true"
    rest = str(total - 1000)
    assert (
        await api.post(url, {"amount_minor": rest, "to": to}, headers={"Idempotency-Key": "r2"})
    ).status_code == 201
    over = await api.post(url, {"amount_minor": "1", "to": to}, headers={"Idempotency-Key": "r3"})
    assert (over.status_code, problem_type(over)) == (422, "refund-exceeds-payment")
    assert over.json()["refundable_minor"] == "0"
    assert (await api.get(f"/payments/v2/payments/{p['payment_id']}")).json()["refunded_minor"] == str(total)
    assert store.count("refunds") == 2


async def test_refund_problems(api: Api) -> None:
    q = await api.quote_v2()
    declined = (await api.pay_v2(q, key="k", payload="cryptopos-test:card:decline")).json()
    url = f"/payments/v2/payments/{declined['payment_id']}/refunds"
    body = {"amount_minor": "1", "to": "addr"}
    r = await api.post(url, body)
    assert (r.status_code, problem_type(r)) == (400, "idempotency-key-required")
    r = await api.post(url, body, headers={"Idempotency-Key": "x"})
    assert (r.status_code, problem_type(r)) == (409, "payment-not-refundable")
    r = await api.post("/payments/v2/payments/pay_nope/refunds", body, headers={"Idempotency-Key": "y"})
    assert (r.status_code, problem_type(r)) == (404, "unknown-payment")
    ok = (await api.pay_v2(await api.quote_v2(), key="k2", reference="ok")).json()
    url = f"/payments/v2/payments/{ok['payment_id']}/refunds"
    r = await api.post(url, {"amount_minor": "1", "to": "two words"}, headers={"Idempotency-Key": "z"})
    assert (r.status_code, problem_type(r)) == (422, "invalid-address")
    bad = [
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp",  # one character off: bech32 checksum
        "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",  # testnet
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # an Ethereum address for a BTC refund
    ]
    for i, to in enumerate(bad):
        r = await api.post(url, {"amount_minor": "1", "to": to}, headers={"Idempotency-Key": f"bad{i}"})
        assert (r.status_code, problem_type(r)) == (422, "invalid-address"), to
    uri = "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?label=Alice"
    r = await api.post(url, {"amount_minor": "1", "to": uri}, headers={"Idempotency-Key": "uri"})
    assert (r.status_code, r.json()["to"]) == (201, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")

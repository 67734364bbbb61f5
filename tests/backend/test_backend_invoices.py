"""Merchant-presented invoices: valid payment URIs, detection, partial, over and late payments."""

from __future__ import annotations

from typing import Any

import pytest

from terminal.domain.payloads import parse_payload

from .conftest import Api, FakeClock, problem_type


async def invoice(api: Api, kind: str, asset: str, *, reference: str = "inv-1") -> dict[str, Any]:
    q = await api.quote_v2(fiat_minor=2500, asset=asset)
    r = await api.post(
        "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": reference, "kind": kind}
    )
    assert r.status_code == 201, r.text
    doc = dict(r.json())
    assert doc["amount_minor"] == q["crypto_minor"] and doc["status"] == "pending"
    return doc


async def simulate(api: Api, inv: dict[str, Any], amount: int) -> Any:
    return await api.post(
        f"/payments/v2/invoices/{inv['invoice_id']}/simulate", {"amount_minor": str(amount)}
    )


@pytest.mark.parametrize(
    ("kind", "asset", "payload_kind"),
    [
        ("bip21", "BTC", "bitcoin"),
        ("eip681", "ETH", "ethereum"),
        ("eip681", "USDC", "ethereum"),
        ("solana", "SOL", "solana_transfer"),
        ("solana", "USDC", "solana_transfer"),
        ("bolt11", "BTC-LN", "bolt11"),
    ],
)
async def test_invoice_uri_parses_back_to_the_amount(
    api: Api, clock: FakeClock, kind: str, asset: str, payload_kind: str
) -> None:
    inv = await invoice(api, kind, asset)
    parsed = parse_payload(inv["uri"], now=clock())
    assert parsed.kind == payload_kind
    assert str(parsed.to_json()["amount_minor"]) == inv["amount_minor"]


async def test_kind_must_fit_the_asset(api: Api) -> None:
    q = await api.quote_v2(asset="ETH")
    r = await api.post(
        "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": "x", "kind": "bip21"}
    )
    assert (r.status_code, problem_type(r)) == (422, "invoice-kind-mismatch")


async def test_exact_payment_is_detected_and_approves_the_payment(api: Api) -> None:
    inv = await invoice(api, "bip21", "BTC")
    r = await simulate(api, inv, int(inv["amount_minor"]))
    assert r.json()["status"] == "paid" and r.json()["payment_status"] == "approved"
    polled = (await api.get(f"/payments/v2/invoices/{inv['invoice_id']}")).json()
    assert polled["status"] == "paid" and polled["received_minor"] == inv["amount_minor"]
    payment = (await api.get(f"/payments/v2/payments/{inv['payment_id']}")).json()
    assert (payment["status"], payment["method"]) == ("approved", "invoice")


async def test_partial_then_rest_then_more(api: Api) -> None:
    inv = await invoice(api, "eip681", "ETH")
    due = int(inv["amount_minor"])
    part = (await simulate(api, inv, due // 3)).json()
    assert (part["status"], part["payment_status"], part["received_minor"]) == (
        "partially_paid",
        "pending",
        str(due // 3),
    )
    payment = (await api.get(f"/payments/v2/payments/{inv['payment_id']}")).json()
    assert payment["reason"] == "partial_payment"
    assert (await simulate(api, inv, due - due // 3)).json()["status"] == "paid"
    assert (await simulate(api, inv, 1)).json()["status"] == "overpaid"


async def test_overpaid_at_once(api: Api) -> None:
    inv = await invoice(api, "solana", "SOL")
    r = (await simulate(api, inv, int(inv["amount_minor"]) + 5)).json()
    assert (r["status"], r["payment_status"]) == ("overpaid", "approved")


async def test_expired_then_late(api: Api, clock: FakeClock) -> None:
    inv = await invoice(api, "bip21", "BTC")
    clock.advance(61)  # the quote's 60 s lock is over
    polled = (await api.get(f"/payments/v2/invoices/{inv['invoice_id']}")).json()
    assert (polled["status"], polled["payment_status"]) == ("expired", "declined")
    late = (await simulate(api, inv, int(inv["amount_minor"]))).json()
    assert (late["status"], late["payment_status"]) == ("late_paid", "pending")
    payment = (await api.get(f"/payments/v2/payments/{inv['payment_id']}")).json()
    assert payment["reason"] == "late_payment"


async def test_lightning_is_all_or_nothing(api: Api) -> None:
    inv = await invoice(api, "bolt11", "BTC-LN")
    r = await simulate(api, inv, int(inv["amount_minor"]) - 1)
    assert (r.status_code, problem_type(r)) == (422, "amount-mismatch")
    assert (await simulate(api, inv, int(inv["amount_minor"]))).json()["status"] == "paid"


async def test_invoice_problems(api: Api, clock: FakeClock) -> None:
    r = await api.get("/payments/v2/invoices/inv_nope")
    assert (r.status_code, problem_type(r)) == (404, "unknown-invoice")
    q = await api.quote_v2()
    clock.advance(61)
    r = await api.post(
        "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": "late", "kind": "bip21"}
    )
    assert (r.status_code, problem_type(r)) == (409, "quote-expired")
    r = await api.post(
        "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": "z", "kind": "paypal"}
    )
    assert (r.status_code, problem_type(r)) == (422, "validation")


async def test_invoice_creation_is_idempotent_when_keyed(api: Api) -> None:
    q = await api.quote_v2()
    body = {"quote_id": q["quote_id"], "reference": "k-inv", "kind": "bip21"}
    a = await api.post("/payments/v2/invoices", body, headers={"Idempotency-Key": "inv-key"})
    b = await api.post("/payments/v2/invoices", body, headers={"Idempotency-Key": "inv-key"})
    assert b.headers["idempotent-replayed"] == "true" and a.json() == b.json()

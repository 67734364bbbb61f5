"""Strict wire types on every route (issue 13): the reproducers, and a sweep over every body field.

Amounts are exactly right or refused (`true`, `"1250"` and `1250.0` are not 1250); text the
backend stores and a screen shows carries no control or bidi characters; each refusal is a
specific 422 naming the field, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

import pytest

from backend_stub.store import Store

from .conftest import Api, problem_type

QUOTE_V2 = {"fiat_minor": 1250, "fiat_currency": "EUR", "asset": "BTC"}
QUOTE_V1 = {"fiat_amount": "12.50", "fiat_currency": "EUR", "asset": "BTC"}
UNSAFE = {
    "NUL": "\x00",
    "line feed": "\n",
    "DEL": "\x7f",
    "C1 NEL": "\x85",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "first strong isolate": "\u2068",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
}


def fields(r: Any) -> set[str]:
    return {e["field"] for e in r.json()["errors"]}


@pytest.mark.parametrize("value", [True, False, "1250", 1250.0, 12.5, None, [1250], {"v": 1}])
async def test_fiat_minor_is_a_json_integer_and_nothing_else(api: Api, store: Store, value: Any) -> None:
    r = await api.post("/rates/v2/quotes", {**QUOTE_V2, "fiat_minor": value})
    assert (r.status_code, problem_type(r)) == (422, "invalid-amount"), r.text
    assert fields(r) == {"fiat_minor"}
    assert r.json()["detail"].startswith("fiat_minor: must be a JSON integer")
    assert store.count("quotes") == 0  # `true` once made a 1-cent quote


@pytest.mark.parametrize("value", [0, -1250, 10**15 + 1])
async def test_fiat_minor_out_of_range(api: Api, value: int) -> None:
    r = await api.post("/rates/v2/quotes", {**QUOTE_V2, "fiat_minor": value})
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-amount", {"fiat_minor"})


async def test_the_exact_integer_is_taken(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE_V2)
    assert r.status_code == 201 and r.json()["fiat_minor"] == 1250


@pytest.mark.parametrize(
    "value", [12.5, 1250, True, "012.50", "+12.50", "12.", ".5", "1e3", " 12.50", "12.50\n"]
)
async def test_v1_amounts_stay_strict_decimal_strings(api: Api, value: Any) -> None:
    r = await api.post("/rates/v1/quotes", {**QUOTE_V1, "fiat_amount": value})
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-amount", {"fiat_amount"}), value


@pytest.mark.parametrize("value", [14087, True, "014087", "0", "-1", "1.0", "1e5", "", "14087\n"])
async def test_v2_crypto_minor_units_are_a_positive_digit_string(api: Api, store: Store, value: Any) -> None:
    q = await api.quote_v2()
    body = {
        "quote_id": q["quote_id"],
        "reference": "s",
        "asset": "BTC",
        "amount_minor": value,
        "payload": "x",
    }
    r = await api.post("/payments/v2/payments", body, headers={"Idempotency-Key": "k"})
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-amount", {"amount_minor"}), value
    assert store.count("payments") == 0


async def test_v1_payment_amount_as_a_json_number_is_refused(api: Api) -> None:
    q = (await api.post("/rates/v1/quotes", QUOTE_V1)).json()
    body = {"quote_id": q["quote_id"], "reference": "s", "asset": "BTC", "payload": "x"}
    r = await api.post("/payments/v1/payments", {**body, "amount": float(q["crypto_amount"])})
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-amount", {"amount"})
    ok = await api.post("/payments/v1/payments", {**body, "amount": q["crypto_amount"]})
    assert ok.status_code == 201, ok.text


async def test_a_zero_refund_is_an_invalid_amount_not_an_excess(api: Api, store: Store) -> None:
    q = await api.quote_v2()
    p = (await api.pay_v2(q, key="k")).json()
    url = f"/payments/v2/payments/{p['payment_id']}/refunds"
    to = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    for amount in ("0", "00"):
        r = await api.post(url, {"amount_minor": amount, "to": to}, headers={"Idempotency-Key": f"r{amount}"})
        assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-amount", {"amount_minor"})
    assert store.count("refunds") == 0
    r = await api.post(url, {"amount_minor": "1", "to": to}, headers={"Idempotency-Key": "r1"})
    assert r.status_code == 201, r.text


async def test_a_129_character_nonce_is_bad_nonce_not_bad_signature(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE_V2, nonce="n" * 129)
    assert (r.status_code, problem_type(r)) == (401, "bad-nonce")
    assert r.headers["www-authenticate"].startswith("CP-HMAC-SHA256")
    assert (await api.post("/rates/v2/quotes", QUOTE_V2, nonce="n" * 128)).status_code == 201


@pytest.mark.parametrize("name", UNSAFE)
async def test_references_refuse_control_and_bidi_characters(api: Api, store: Store, name: str) -> None:
    char = UNSAFE[name]
    q = await api.quote_v2()
    reference = f"INV-{char}01-5202"  # with U+202E it is shown as INV-2025-10
    body = {"quote_id": q["quote_id"], "reference": reference, "asset": "BTC", "payload": "x"}
    r = await api.post(
        "/payments/v2/payments", {**body, "amount_minor": q["crypto_minor"]}, headers={"Idempotency-Key": "k"}
    )
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-characters", {"reference"})
    assert f"U+{ord(char):04X}" in r.json()["detail"] and "position 4" in r.json()["detail"]
    r = await api.post(
        "/payments/v2/invoices", {"quote_id": q["quote_id"], "reference": reference, "kind": "bip21"}
    )
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-characters", {"reference"})
    assert store.count("payments") == store.count("invoices") == 0


async def test_every_stored_text_field_refuses_them(api: Api) -> None:
    q = await api.quote_v2()
    p = (await api.pay_v2(q, key="k")).json()
    rlo = "\u202e"
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("/rates/v1/quotes", "POST", {**QUOTE_V1, "asset": "BTC" + rlo}, "asset"),
        ("/rates/v2/quotes", "POST", {**QUOTE_V2, "fiat_currency": "\x00EUR"}, "fiat_currency"),
        (
            "/payments/v1/payments",
            "POST",
            {"quote_id": "q\x00", "reference": "r", "asset": "BTC", "amount": "1", "payload": "x"},
            "quote_id",
        ),
        (
            "/payments/v2/payments",
            "POST",
            {
                "quote_id": q["quote_id"],
                "reference": "r",
                "asset": "BTC",
                "amount_minor": "1",
                "payload": "x\u2066",
            },
            "payload",
        ),
        (
            f"/payments/v2/payments/{p['payment_id']}/refunds",
            "POST",
            {"amount_minor": "1", "to": "bc1q" + rlo},
            "to",
        ),
        ("/payments/v2/test/wallet-keys", "POST", {"key_id": "w" + rlo, "public_key": "A" * 43}, "key_id"),
    ]
    for path, method, body, field in cases:
        r = await api.request(method, path, body, headers={"Idempotency-Key": "other"})
        assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-characters", {field}), path
    r = await api.get("/payments/v2/payments?reference=a%E2%80%AEb")
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-characters", {"query.reference"})
    r = await api.get("/payments/v1/payments?reference=a%00b")
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-characters", {"query.reference"})


async def test_printable_unicode_is_still_welcome(api: Api) -> None:
    q = await api.quote_v2()
    r = await api.pay_v2(q, key="k", reference="Café №5 – 東京 😀")
    assert r.status_code == 201, r.text
    assert r.json()["reference"] == "Café №5 – 東京 😀"


@pytest.mark.parametrize(
    "query", ["limit=20.0", "limit=%2B20", "limit=2_0", "limit=true", "limit=%2020", "limit=20%0A"]
)
async def test_integer_query_parameters_are_plain_digits(api: Api, query: str) -> None:
    r = await api.get(f"/payments/v2/payments?{query}")
    assert (r.status_code, problem_type(r), fields(r)) == (422, "invalid-parameter", {"query.limit"})


@pytest.mark.parametrize(
    "since", ["2026-11-26", "2026-11-26T12:00:00", "20261126T120000Z", "yesterday", "2026-11-26T12:00:00Z%0A"]
)
async def test_since_is_an_rfc3339_date_time(api: Api, since: str) -> None:
    r = await api.get(f"/payments/v2/payments?since={since}")
    assert (r.status_code, problem_type(r)) == (422, "invalid-parameter")


async def test_ids_and_keys_have_their_shapes(api: Api) -> None:
    r = await api.get("/payments/v2/payments/pay%00x")
    assert (r.status_code, problem_type(r), fields(r)) == (422, "validation", {"path.payment_id"})
    q = await api.quote_v2()
    r = await api.pay_v2(q, key="two words")
    assert (r.status_code, problem_type(r), fields(r)) == (422, "validation", {"header.Idempotency-Key"})


async def test_errors_of_several_kinds_stay_a_generic_validation(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", {**QUOTE_V2, "fiat_minor": True, "asset": "B\x00"})
    assert (r.status_code, problem_type(r), fields(r)) == (422, "validation", {"fiat_minor", "asset"})
    assert r.json()["detail"] == "2 invalid fields: fiat_minor, asset"


# -- a sweep: every JSON body field of every route refuses values of the wrong JSON type -------

WRONG_FOR = {
    "integer": [True, "1", 1.0, None, [], {}],
    "string": [True, 1, 1.5, None, [], {}],
    "object": [True, 1, "1", 1.5, None, []],
    "array": [True, 1, "1", 1.5, None, {}],  # a heartbeat's readers
}


async def test_every_body_field_of_every_route_refuses_the_wrong_json_type(api: Api) -> None:
    swept = 0
    for service, version in [("rates", "v1"), ("rates", "v2"), ("payments", "v1"), ("payments", "v2")]:
        schema = (await api.get(f"/{service}/{version}/openapi.json", sign=False)).json()
        components = schema["components"]["schemas"]
        for path, item in schema["paths"].items():
            for method, op in item.items():
                body = op.get("requestBody", {}).get("content", {}).get("application/json")
                if body is None:
                    continue
                model = components[body["schema"]["$ref"].rsplit("/", 1)[-1]]
                url = f"/{service}/{version}" + path.replace("{payment_id}", "pay_x").replace(
                    "{invoice_id}", "inv_x"
                )
                for name, prop in model["properties"].items():
                    # enums (`kind`) are strings too; a $ref is an object (a refund's approval)
                    kind = "object" if "$ref" in prop else prop.get("type", "string")
                    for wrong in WRONG_FOR[kind]:
                        doc = {n: ("1" if n != name else wrong) for n in model["properties"]}
                        r = await api.request(method.upper(), url, doc, headers={"Idempotency-Key": "sweep"})
                        assert r.status_code == 422, (url, name, wrong, r.text)
                        assert name in fields(r), (url, name, wrong, r.json())
                        swept += 1
    assert swept > 150  # every route with a body took part


async def test_the_schemas_document_problems_not_fastapis_validation_shape(api: Api) -> None:
    for service, version in [("rates", "v1"), ("rates", "v2"), ("payments", "v1"), ("payments", "v2")]:
        schema = (await api.get(f"/{service}/{version}/openapi.json", sign=False)).json()
        assert "HTTPValidationError" not in schema["components"]["schemas"]
        for item in schema["paths"].values():
            for op in item.values():
                assert "application/problem+json" in op["responses"]["default"]["content"]
                assert "422" not in op["responses"]
    v2 = (await api.get("/rates/v2/openapi.json", sign=False)).json()
    fiat = v2["components"]["schemas"]["QuoteRequestV2"]["properties"]["fiat_minor"]
    assert (fiat["type"], fiat["minimum"]) == ("integer", 1)
    pay = (await api.get("/payments/v2/openapi.json", sign=False)).json()
    reference = pay["components"]["schemas"]["PaymentRequestV2"]["properties"]["reference"]
    assert "\\u202a-\\u202e" in reference["pattern"]

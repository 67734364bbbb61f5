"""Property test of every service version's OpenAPI schema, with every schemathesis check.

Schemathesis generates requests from each version's own schema and sends them in-process:
positive cases (that conform) and negative ones (wrong types, bools and strings for
integers, control characters, missing or extra fields, bad parameters). Every response is
validated with all of schemathesis' checks (``--checks all``): no 5xx, status codes, content
types, headers and bodies as documented, a request the schema forbids never answered 2xx, a
missing required header refused. One check of our own holds the schema and the routes to
each other the other way: a request the schema allows is never refused by a schema-level
rule (``validation``, ``invalid-characters``), only by a business rule (an unknown quote,
an unsupported pair, an amount that does not match its quote).

A small ASGI wrapper plays the terminal and signs every request, so the generated cases
reach the handlers instead of stopping at 401; half of the positive cases are pointed at
real quotes and payments so the ledger paths run too. Bounded: a few examples per operation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.domain import signing
from terminal.domain.text import SAFE_TEXT_PATTERN

from .conftest import KEY_ID, SECRET

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}
VERSIONS = [("rates", "v1"), ("rates", "v2"), ("payments", "v1"), ("payments", "v2")]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # 422 too: a schema-valid request may break a business rule (see agree_with_the_schema);
            # 403: a well-formed PIN may be wrong, and a refund may need a manager's approval
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]},
            # a forbidden request is refused as a client error, never "rejected" by a 5xx
            "negative_data_rejection": {"expected-statuses": ["400", "404", "405", "422"]},
        }
    }
)
SCHEMA_LEVEL = {"validation", "invalid-characters"}
NEAR_MISS_EXAMPLES = 8
AMOUNT_FIELDS = {"fiat_minor", "fiat_amount", "amount", "amount_minor"}
# C0 (NUL, BEL, LF, ESC), DEL, C1 (NEL, APC) and the bidi controls
UNSAFE_CHARS = "\x00\x07\n\x1b\x7f\x85\x9f\u061c\u200e\u200f\u202a\u202e\u2066\u2069"


class SigningTerminal:
    """Signs each request like the terminal would (the body is only known once generated)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        self.count += 1
        headers = signing.signature_headers(
            key_id=KEY_ID,
            secret=SECRET,
            method=scope["method"],
            path=path,
            timestamp=int(time.time()),
            nonce=f"st-{id(self)}-{self.count}",
            body=body,
        )
        scope = {
            **scope,
            "headers": [*scope["headers"], *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        }
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    store = Store(tmp_path_factory.mktemp("schema") / "ledger.sqlite3")
    app = SigningTerminal(
        create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}, slow_s=0.0))
    )
    # A few real quotes and payments, so generated requests can hit existing objects.
    quotes, payments = asyncio.run(seed(app))
    yield {"app": app, "store": store, "quotes": quotes, "payments": payments}
    store.close()


async def seed(app: ASGIApp) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with httpx.AsyncClient(transport=InProcessTransport(app), base_url="http://seed") as http:
        quotes = []
        for minor, asset in [(1250, "BTC"), (999, "ETH"), (100_000, "SOL")]:
            body = {"fiat_minor": minor, "fiat_currency": "EUR", "asset": asset}
            quotes.append((await http.post("/rates/v2/quotes", json=body)).json())
        payments = []
        for i, q in enumerate(quotes[:2]):
            body = {
                "quote_id": q["quote_id"],
                "reference": f"seed-{i}",
                "asset": q["asset"],
                "amount_minor": q["crypto_minor"],
                "payload": "x",
            }
            r = await http.post("/payments/v2/payments", json=body, headers={"Idempotency-Key": f"seed-{i}"})
            payments.append(r.json())
    return quotes, payments


def operations(world_app: Any, service: str, version: str) -> list[Any]:
    schema = schemathesis.openapi.from_asgi(f"/{service}/{version}/openapi.json", world_app, config=CONFIG)
    return [op.ok() for op in schema.get_all_operations()]


def agree_with_the_schema(ctx: Any, response: Any, case: Any) -> None:
    """A request the schema allows is refused only by a business rule, never a schema-level one."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return
    slug = str(response.json().get("type", "")).rsplit("/", 1)[-1]
    assert slug not in SCHEMA_LEVEL, f"the schema allows what the route refuses: {response.text}"


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"]
)
@pytest.mark.parametrize(("service", "version"), VERSIONS)
def test_every_check_holds(world: dict[str, Any], service: str, version: str, mode: GenerationMode) -> None:
    ops = operations(world["app"], service, version)
    assert ops, "the schema lists operations"
    statuses: dict[str, set[int]] = {}
    for op in ops:
        check_operation(op, world, statuses, mode)
    # The signing worked: every operation got past authentication at least once.
    for name, seen in statuses.items():
        assert seen - {401}, (name, seen)
    if mode is GenerationMode.NEGATIVE:
        # every operation that can be sent wrong was, and refused (schemathesis' negative_data_rejection
        # judged each answer, knowing which negations become valid once sent, e.g. an extra query key)
        assert statuses and all(seen & {400, 422} for seen in statuses.values()), statuses


def check_operation(
    op: Any, world: dict[str, Any], statuses: dict[str, set[int]], mode: GenerationMode
) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # no shrinking: a failure is reported as found, and quickly
    )
    @given(case=op.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:
            integers_as_integers(case)
            aim_at_real_objects(case, data, world)  # negative cases stay as generated: still wrong
        response = case.call_and_validate(additional_checks=[agree_with_the_schema])
        if response.status_code >= 400:
            assert response.headers["content-type"][0].startswith("application/problem+json"), response.text
        statuses.setdefault(f"{op.method.upper()} {op.path}", set()).add(response.status_code)

    try:
        run()
    except Unsatisfiable:
        # nothing of this operation can be sent wrong (GET /keys: no parameters, no body)
        assert mode is GenerationMode.NEGATIVE and not list(op.iter_parameters()), op.label
        assert not op.get_request_payload_content_types(), op.label


@pytest.mark.parametrize(("service", "version"), VERSIONS)
def test_near_misses_in_every_body_field_are_refused_with_their_specific_type(
    world: dict[str, Any], service: str, version: str
) -> None:
    """The negative data the issue names, aimed: a valid generated body with one field one step off
    (a bool, a digit string or 1250.0 for an integer; an integer, a sign or a fraction for a digit
    string; a control or bidi character in text) is refused 422 with the field and its type."""
    schema = schemathesis.openapi.from_asgi(f"/{service}/{version}/openapi.json", world["app"], config=CONFIG)
    components = schema.raw_schema["components"]["schemas"]
    tried: dict[str, set[str]] = {}
    for op in (o.ok() for o in schema.get_all_operations()):
        if "application/json" not in op.get_request_payload_content_types():
            continue
        ref = op.definition.raw["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        properties = components[ref.rsplit("/", 1)[-1]]["properties"]

        near_miss_operation(op, properties, tried)
    assert tried and all(tried.values()), tried


def near_miss_operation(op: Any, properties: dict[str, Any], tried: dict[str, set[str]]) -> None:
    @settings(
        max_examples=NEAR_MISS_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # no shrinking: a failure is reported as found, and quickly
    )
    @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        integers_as_integers(case)
        name = data.draw(st.sampled_from(sorted(case.body)), label="field")
        case.body[name], expected = near_miss(name, case.body[name], properties[name], data)
        # a near miss is generated from a positive case, so that check does not apply
        response = case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
        doc = response.json()
        assert response.status_code == 422, (op.label, name, case.body, response.text)
        assert name in {e["field"] for e in doc["errors"]}, (op.label, name, doc)
        assert doc["type"].rsplit("/", 1)[-1] == expected, (op.label, name, case.body, doc["errors"])
        tried.setdefault(op.label, set()).add(name)

    run()


def near_miss(name: str, value: Any, prop: dict[str, Any], data: st.DataObject) -> tuple[Any, str]:
    """``value`` one step off, and the problem type that must refuse it."""
    if isinstance(value, dict):  # an object (a refund's approval): anything but an object
        return data.draw(st.sampled_from([True, 1, "x", [value]])), "validation"
    if isinstance(value, list):  # a list (a heartbeat's readers): anything but a list
        return data.draw(st.sampled_from([True, 1, "x", {"items": value}])), "validation"
    if prop.get("type") == "integer":
        off: Any = data.draw(st.sampled_from([True, False, str(value), float(value), [value]]))
    elif str(prop.get("pattern", "")).startswith("^[1-9]"):  # crypto minor units, a digit string
        off = data.draw(
            st.sampled_from([int(value), f"+{value}", f"{value}.0", f"0{value}", f" {value}", f"{value}\n"])
        )
    else:  # text: one character swapped for a control or bidi character (so the length still fits)
        at = data.draw(st.integers(0, len(value) - 1))
        off = value[:at] + data.draw(st.sampled_from(UNSAFE_CHARS)) + value[at + 1 :]
    if name in AMOUNT_FIELDS:
        return off, "invalid-amount"
    return off, "invalid-characters" if prop.get("pattern") == SAFE_TEXT_PATTERN else "validation"


def integers_as_integers(case: Any) -> None:
    """JSON Schema counts 1250.0 as an integer, and so generates it as valid; this API takes only
    1250 (docs/api.md), a rule no JSON Schema keyword can state. Positive cases write integers."""
    if isinstance(case.body, dict):
        for name, value in case.body.items():
            if isinstance(value, float) and value.is_integer():
                case.body[name] = int(value)


def aim_at_real_objects(case: Any, data: st.DataObject, world: dict[str, Any]) -> None:
    if not data.draw(st.booleans(), label="real objects"):
        return
    quote = data.draw(st.sampled_from(world["quotes"]))
    payment = data.draw(st.sampled_from(world["payments"]))
    if isinstance(case.body, dict):
        if "fiat_currency" in case.body:
            case.body["fiat_currency"] = data.draw(st.sampled_from(["EUR", "USD", "JPY", "KWD"]))
            case.body["asset"] = data.draw(st.sampled_from(["BTC", "BTC-LN", "ETH", "USDC", "SOL"]))
        if "fiat_amount" in case.body:
            cents = data.draw(st.integers(min_value=0, max_value=10**9))
            case.body["fiat_amount"] = f"{cents // 100}.{cents % 100:02d}"
        if "quote_id" in case.body:
            case.body["quote_id"] = quote["quote_id"]
        if "amount_minor" in case.body and "payload" in case.body:
            case.body["amount_minor"] = quote["crypto_minor"]
            case.body["asset"] = quote["asset"]
    if case.path_parameters and "payment_id" in case.path_parameters:
        case.path_parameters["payment_id"] = payment["payment_id"]
    if case.headers is not None and "Idempotency-Key" not in case.headers and data.draw(st.booleans()):
        case.headers["Idempotency-Key"] = data.draw(st.text("abcdef0123456789", min_size=1, max_size=8))

"""Property test of every service version's OpenAPI schema: no 5xx on valid inputs.

Schemathesis generates requests that conform to each version's own schema (positive
mode only) and sends them in-process. A small ASGI wrapper plays the terminal and signs
every request, so the generated cases reach the handlers instead of stopping at 401;
half of the cases are pointed at real quotes and payments so the ledger paths run too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.domain import signing

from .conftest import KEY_ID, SECRET

EXAMPLES = 25
VERSIONS = [("rates", "v1"), ("rates", "v2"), ("payments", "v1"), ("payments", "v2")]


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
    schema = schemathesis.openapi.from_asgi(f"/{service}/{version}/openapi.json", world_app)
    return [op.ok() for op in schema.get_all_operations()]


@pytest.mark.parametrize(("service", "version"), VERSIONS)
def test_no_server_error_on_valid_requests(world: dict[str, Any], service: str, version: str) -> None:
    ops = operations(world["app"], service, version)
    assert ops, "the schema lists operations"
    statuses: dict[str, set[int]] = {}
    for op in ops:
        check_operation(op, world, statuses)
    # The signing worked: every operation got past authentication at least once.
    for name, seen in statuses.items():
        assert seen - {401}, (name, seen)


def check_operation(op: Any, world: dict[str, Any], statuses: dict[str, set[int]]) -> None:
    strategy = op.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if True:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, data=st.data())
        def run(case: Any, data: st.DataObject) -> None:
            aim_at_real_objects(case, data, world)
            response = case.call()
            assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"][0].startswith("application/problem+json"), (
                    response.text
                )
            statuses.setdefault(f"{op.method.upper()} {op.path}", set()).add(response.status_code)

        run()


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

"""Fixtures of the backend tests: a controllable clock, a store on disk, signed clients."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.domain import signing
from tests.support import NO_APPROVAL

KEY_ID, SECRET = "term-1", b"k" * 32
OTHER_KEY_ID, OTHER_SECRET = "term-2", b"o" * 32
START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()


@dataclass
class FakeClock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Api:
    """Plays the terminal: signs every request like terminal.domain.signing says."""

    http: httpx.AsyncClient
    clock: FakeClock
    key_id: str = KEY_ID
    secret: bytes = SECRET

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        sign: bool = True,
        nonce: str | None = None,
        timestamp: int | None = None,
        raw: bytes | None = None,
    ) -> httpx.Response:
        content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        signed: dict[str, str] = {}
        if sign:
            signed = signing.signature_headers(
                key_id=self.key_id,
                secret=self.secret,
                method=method,
                path=path,
                timestamp=int(self.clock()) if timestamp is None else timestamp,
                nonce=nonce or secrets.token_hex(8),
                body=content,
            )
        all_headers = {**signed, "Content-Type": "application/json", **(headers or {})}
        return await self.http.request(method, path, content=content, headers=all_headers)

    async def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, body, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    # -- shortcuts ------------------------------------------------------------------

    async def quote_v2(self, fiat_minor: int = 1250, currency: str = "EUR", asset: str = "BTC") -> Any:
        r = await self.post(
            "/rates/v2/quotes", {"fiat_minor": fiat_minor, "fiat_currency": currency, "asset": asset}
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def pay_v2(
        self, quote: dict[str, Any], *, key: str, reference: str = "sale-1", payload: str = "x"
    ) -> httpx.Response:
        body = {
            "quote_id": quote["quote_id"],
            "reference": reference,
            "asset": quote["asset"],
            "amount_minor": quote["crypto_minor"],
            "payload": payload,
        }
        return await self.post("/payments/v2/payments", body, headers={"Idempotency-Key": key})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Store]:
    s = Store(tmp_path / "ledger.sqlite3")
    yield s
    s.close()


@pytest.fixture
def settings(clock: FakeClock) -> ServiceSettings:
    return ServiceSettings(
        keys={KEY_ID: SECRET, OTHER_KEY_ID: OTHER_SECRET}, clock=clock, slow_s=0.3, refunds=NO_APPROVAL
    )


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=InProcessTransport(app), base_url="http://backend.test")


@pytest.fixture
async def api(store: Store, settings: ServiceSettings, clock: FakeClock) -> AsyncIterator[Api]:
    async with client_for(create_app(store=store, settings=settings)) as http:
        yield Api(http, clock)


def problem_type(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    doc = r.json()
    assert doc["status"] == r.status_code
    assert doc["title"]
    return str(doc["type"]).removeprefix("https://cryptopos.dev/problems/")

"""The v2 adapter against a scripted backend that follows docs/api.md (the services branch builds
the real one), and version negotiation from /discovery."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from terminal.client import BackendError, BadAnswerError, ProblemError, QuoteRefusedError
from terminal.client.adapters import AdapterError, choose_version
from terminal.domain.money import Money, asset, fiat_to_crypto
from tests.client.helpers import Sleeps, make_client

EUR, ETH = asset("EUR"), asset("ETH")


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC_KEY = SIGNING_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(doc: dict[str, Any], key_id: str = "k1") -> dict[str, Any]:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return {
        **doc,
        "signature": {"alg": "Ed25519", "key_id": key_id, "value": b64url(SIGNING_KEY.sign(canonical))},
    }


class FakeV2:
    def __init__(self, *, v1_status: str = "deprecated", v2: bool = True, tamper: bool = False) -> None:
        self.v1_status, self.v2, self.tamper = v1_status, v2, tamper
        self.payments: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/discovery":
            versions = [{"version": "v1", "status": self.v1_status}]
            if self.v2:
                versions.append({"version": "v2", "status": "stable"})
            return httpx.Response(
                200, json={"services": {"rates": {"versions": versions}, "payments": {"versions": versions}}}
            )
        if path == "/rates/v2/keys":
            return httpx.Response(
                200, json={"keys": [{"key_id": "k1", "alg": "Ed25519", "public_key": b64url(PUBLIC_KEY)}]}
            )
        assert "X-Cp-Signature" in request.headers
        if path == "/rates/v2/quotes":
            body = json.loads(request.content)
            assert isinstance(body["fiat_minor"], int)
            now = datetime.now(UTC)
            fiat = Money(body["fiat_minor"], asset(body["fiat_currency"]))
            crypto = fiat_to_crypto(fiat, asset(body["asset"]), "3000.0000")
            doc = sign(
                {
                    "quote_id": "q_1",
                    "fiat_minor": fiat.minor,
                    "fiat_currency": fiat.asset.code,
                    "asset": body["asset"],
                    "crypto_minor": str(crypto.minor),
                    "rate": "3000.0000",
                    "spread_bps": 100,
                    "fee_minor": 0,
                    "sources": [],
                    "issued_at": iso(now),
                    "expires_at": iso(now + timedelta(seconds=60)),
                }
            )
            if self.tamper:  # a man in the middle asks for a little less
                doc["crypto_minor"] = str(int(doc["crypto_minor"]) - 1)
                doc["rate"] = "3000.1000"
            return httpx.Response(201, json=doc)
        if path == "/payments/v2/payments" and request.method == "POST":
            key = request.headers.get("Idempotency-Key")
            if not key:
                return httpx.Response(400, json={"type": "x/idempotency-key-required", "title": "key"})
            if key in self.keys:
                return httpx.Response(201, json=self.keys[key], headers={"Idempotent-Replayed": "true"})
            body = json.loads(request.content)
            assert isinstance(body["amount_minor"], str) and body["amount_minor"].isdigit()
            doc = {
                "payment_id": f"pay_{len(self.payments) + 1}",
                "reference": body["reference"],
                "quote_id": body["quote_id"],
                "status": "approved",
                "reason": None,
                "asset": body["asset"],
                "amount_minor": body["amount_minor"],
                "fiat_minor": 1250,
                "fiat_currency": "EUR",
            }
            self.payments[doc["payment_id"]] = doc
            self.keys[key] = doc
            return httpx.Response(201, json=doc)
        if path == "/payments/v2/payments" and request.method == "GET":
            ref = request.url.params["reference"]
            items = [p for p in self.payments.values() if p["reference"] == ref]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if path.endswith("/refunds"):
            body = json.loads(request.content)
            pid = path.split("/")[4]
            return httpx.Response(
                201,
                json={
                    "refund_id": "rf_1",
                    "payment_id": pid,
                    "amount_minor": body["amount_minor"],
                    "to": body["to"],
                    "status": "pending",
                },
            )
        return httpx.Response(404, json={"type": "x/not-found", "title": "not found"})


async def test_auto_negotiates_v2_and_speaks_minor_units(sleeps: Sleeps) -> None:
    fake = FakeV2()
    async with make_client(httpx.MockTransport(fake), sleeps, api_version="auto") as c:
        q = await c.quote(Money(1250, EUR), ETH)
        assert c.api_version == "v2"
        assert q.crypto == fiat_to_crypto(Money(1250, EUR), ETH, "3000.0000")
        p = await c.create_payment(quote=q, reference="r1", payload="tok", idempotency_key="K1")
        assert p.amount_minor == q.crypto.minor  # wei survive as digits, no float
        assert (await c.find_by_reference("r1")) == p
        r = await c.refund(payment_id=p.payment_id, amount_minor=5, to="0xabc", idempotency_key="RK")
        assert (r.refund_id, r.amount_minor, r.to) == ("rf_1", 5, "0xabc")
    paths = [r.url.path for r in fake.requests]
    assert paths.count("/discovery") == 1  # negotiated once
    refund_req = next(r for r in fake.requests if r.url.path.endswith("/refunds"))
    assert refund_req.headers["Idempotency-Key"] == "RK"


async def test_pinned_version_needs_no_discovery(sleeps: Sleeps) -> None:
    fake = FakeV2()
    async with make_client(httpx.MockTransport(fake), sleeps, api_version="v2") as c:
        await c.quote(Money(1250, EUR), ETH)
    assert "/discovery" not in [r.url.path for r in fake.requests]


def test_choose_version() -> None:
    def disc(rates: list[tuple[str, str]], payments: list[tuple[str, str]]) -> dict[str, Any]:
        return {
            "services": {
                "rates": {"versions": [{"version": v, "status": s} for v, s in rates]},
                "payments": {"versions": [{"version": v, "status": s} for v, s in payments]},
            }
        }

    assert (
        choose_version(disc([("v1", "deprecated"), ("v2", "stable")], [("v1", "stable"), ("v2", "stable")]))
        == "v2"
    )
    # v2 only on one service: the common one wins
    assert choose_version(disc([("v1", "stable"), ("v2", "stable")], [("v1", "stable")])) == "v1"
    with pytest.raises(AdapterError, match="no API version in common"):
        choose_version(disc([("v1", "sunset")], [("v1", "sunset")]))
    with pytest.raises(AdapterError, match="services"):
        choose_version({})


async def test_discovery_without_a_common_version_is_a_clear_error(sleeps: Sleeps) -> None:
    fake = FakeV2(v1_status="sunset", v2=False)
    async with make_client(httpx.MockTransport(fake), sleeps, api_version="auto") as c:
        with pytest.raises(BadAnswerError, match="no API version in common"):
            await c.quote(Money(1250, EUR), ETH)


async def test_sunset_version_renegotiates_when_auto_and_says_so_when_pinned(sleeps: Sleeps) -> None:
    fake = FakeV2()
    gone = {"type": "https://cryptopos.dev/problems/version-sunset", "title": "Gone", "status": 410}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/rates/v1"):
            return httpx.Response(410, json=gone)
        return fake(request)

    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v1") as c:
        with pytest.raises(BackendError, match="past its sunset"):
            await c.quote(Money(1250, EUR), ETH)


async def test_two_payments_for_one_reference_is_never_hidden(sleeps: Sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        item = {"payment_id": "p", "reference": "r", "status": "approved", "reason": None}
        return httpx.Response(200, json={"items": [item, {**item, "payment_id": "p2"}]})

    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v2") as c:
        with pytest.raises(BadAnswerError, match="two payments"):
            await c.find_by_reference("r")


async def test_v2_rejects_float_amounts(sleeps: Sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        item = {
            "payment_id": "p",
            "reference": "r",
            "status": "approved",
            "reason": None,
            "amount_minor": 1.5,
        }
        return httpx.Response(200, json={"items": [item]})

    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v2") as c:
        with pytest.raises(BadAnswerError, match="integer minor units"):
            await c.find_by_reference("r")


async def test_problem_details_reach_the_caller(sleeps: Sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404,
            json={
                "type": "https://cryptopos.dev/problems/unknown-payment",
                "title": "Unknown payment",
                "detail": "pay_x",
            },
        )

    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v2") as c:
        with pytest.raises(ProblemError) as info:
            await c.get_payment("pay_x")
    assert (info.value.status, info.value.type, info.value.message) == (404, "unknown-payment", "pay_x")


async def test_an_altered_quote_is_refused(sleeps: Sleeps) -> None:
    fake = FakeV2(tamper=True)
    async with make_client(httpx.MockTransport(fake), sleeps, api_version="v2") as c:
        with pytest.raises(QuoteRefusedError, match="altered"):
            await c.quote(Money(1250, EUR), ETH)


async def test_a_quote_signed_by_a_key_not_pinned_is_refused(sleeps: Sleeps) -> None:
    fake = FakeV2()
    async with make_client(
        httpx.MockTransport(fake), sleeps, api_version="v2", quote_keys={"other": bytes(32)}
    ) as c:
        with pytest.raises(QuoteRefusedError, match="unknown key 'k1'"):
            await c.quote(Money(1250, EUR), ETH)
    assert "/rates/v2/keys" not in [r.url.path for r in fake.requests]  # pinned: never fetched
    async with make_client(
        httpx.MockTransport(fake), sleeps, api_version="v2", quote_keys={"k1": PUBLIC_KEY}
    ) as c:
        assert (await c.quote(Money(1250, EUR), ETH)).quote_id == "q_1"

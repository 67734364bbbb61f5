"""HTTP client of the backend: keyword-only options, an injectable transport."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib.metadata import entry_points
from typing import Any

import httpx

from terminal.domain import signing
from terminal.domain.money import Asset, Money, MoneyError, asset
from terminal.domain.quote import Quote


class BackendError(Exception):
    def __init__(self, title: str, message: str) -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message


class BackendUnavailableError(BackendError):
    pass


class OutcomeUnknownError(BackendError):
    pass


class ProblemError(BackendError):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", "")).rsplit("/", 1)[-1]
        title = str(problem.get("title") or f"HTTP {status}")
        super().__init__(title, str(problem.get("detail") or title))


class QuoteRefusedError(ProblemError):
    pass


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment_id: str
    reference: str
    status: str  # approved | declined | pending
    reason: str | None


def backend_transport(url: str, *, key_id: str, secret: bytes) -> httpx.AsyncBaseTransport | None:
    """The transport for a configured backend: ``embedded`` loads the in-process backend
    through the ``cryptopos.backends`` entry point; an http(s) URL needs none."""
    if url != "embedded":
        return None
    found = entry_points(group="cryptopos.backends", name="embedded")
    if not found:
        raise BackendUnavailableError(
            "No embedded backend", "this installation has no embedded backend; set backend.url to a URL"
        )
    factory = next(iter(found)).load()
    transport: httpx.AsyncBaseTransport = factory(key_id=key_id, secret=secret)
    return transport


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class BackendClient:
    """Talks to the backend. Every request is HMAC-signed; every write carries an idempotency key."""

    def __init__(
        self,
        *,
        base_url: str,
        key_id: str,
        secret: bytes,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = 2.0,
        request_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(12),
    ) -> None:
        self._key_id = key_id
        self._secret = secret
        self._clock = clock
        self._nonce = nonce
        base = "http://embedded.invalid" if base_url == "embedded" else base_url
        self._http = httpx.AsyncClient(
            base_url=base,
            transport=transport,
            timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
            # shorter than uvicorn's 5 s keep-alive, so we never reuse a socket the server closed
            limits=httpx.Limits(keepalive_expiry=4.0),
            headers={"User-Agent": "cryptopos-terminal/0.1"},
        )

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing --------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        write: bool = False,
    ) -> dict[str, Any]:
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        signed = signing.signature_headers(
            key_id=self._key_id,
            secret=self._secret,
            method=method,
            path=path,
            timestamp=int(self._clock()),
            nonce=self._nonce(),
            body=content,
        )
        all_headers = {**signed, **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        try:
            resp = await self._http.request(method, path, content=content, headers=all_headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise BackendUnavailableError("Backend unreachable", f"cannot connect: {exc}") from exc
        except httpx.TransportError as exc:
            if write:
                raise OutcomeUnknownError(
                    "No answer from the backend", f"{type(exc).__name__}: {exc}"
                ) from exc
            raise BackendUnavailableError("Backend unreachable", f"{type(exc).__name__}: {exc}") from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if write and resp.status_code >= 500:
                raise OutcomeUnknownError(
                    "Backend error", f"HTTP {resp.status_code} without a problem document"
                )
            raise ProblemError(
                resp.status_code,
                {
                    "title": "Backend sent an unreadable answer",
                    "detail": f"HTTP {resp.status_code}, not a JSON object",
                },
            )
        if resp.status_code >= 400:
            if write and resp.status_code >= 500:
                raise OutcomeUnknownError(
                    str(data.get("title", "Backend error")), str(data.get("detail", ""))
                )
            raise ProblemError(resp.status_code, data)
        return data

    # -- API -------------------------------------------------------------------------

    async def discover(self) -> dict[str, Any]:
        return await self._request("GET", "/discovery")

    async def quote(self, amount: Money, crypto: Asset) -> Quote:
        body = {"fiat_amount": amount.amount_str(), "fiat_currency": amount.asset.code, "asset": crypto.code}
        try:
            data = await self._request("POST", "/rates/v1/quotes", body=body)
        except ProblemError as exc:
            raise QuoteRefusedError(exc.status, exc.problem) from exc
        try:
            fiat = Money.from_decimal(data["fiat_amount"], asset(data["fiat_currency"]))
            got = Money.from_decimal(data["crypto_amount"], asset(data["asset"]))
            q = Quote(
                quote_id=str(data["quote_id"]),
                fiat=fiat,
                crypto=got,
                rate=Decimal(data["rate"]),
                spread_bps=int(data["spread_bps"]),
                issued_at=_epoch(data["issued_at"]),
                expires_at=_epoch(data["expires_at"]),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation, MoneyError) as exc:
            raise BackendError("Backend sent a bad quote", f"{type(exc).__name__}: {exc}") from exc
        if q.fiat != amount or q.crypto.asset != crypto or not q.crypto.is_positive() or q.rate <= 0:
            raise BackendError("Backend sent a bad quote", "the quote does not match the amount asked for")
        return q

    async def create_payment(
        self, *, quote: Quote, reference: str, payload: str, idempotency_key: str
    ) -> PaymentResult:
        body = {
            "quote_id": quote.quote_id,
            "reference": reference,
            "asset": quote.crypto.asset.code,
            "amount": quote.crypto.amount_str(),
            "payload": payload,
        }
        data = await self._request(
            "POST",
            "/payments/v1/payments",
            body=body,
            headers={"Idempotency-Key": idempotency_key},
            write=True,
        )
        return self._payment(data)

    async def get_payment(self, payment_id: str) -> PaymentResult:
        return self._payment(await self._request("GET", f"/payments/v1/payments/{payment_id}"))

    async def find_by_reference(self, reference: str) -> PaymentResult | None:
        data = await self._request("GET", f"/payments/v1/payments?reference={reference}")
        items = data.get("items")
        if not isinstance(items, list):
            raise BackendError("Backend sent a bad answer", "payment list without items")
        return self._payment(items[0]) if items else None

    @staticmethod
    def _payment(data: dict[str, Any]) -> PaymentResult:
        try:
            return PaymentResult(
                str(data["payment_id"]), str(data["reference"]), str(data["status"]), data.get("reason")
            )
        except KeyError as exc:
            raise BackendError("Backend sent a bad payment", f"missing {exc}") from exc

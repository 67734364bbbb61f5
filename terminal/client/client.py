"""HTTP client of the backend: keyword-only options, an injectable transport.

Every request is HMAC-signed (a fresh nonce per attempt); every write carries an
``Idempotency-Key`` that the caller derives from the journaled sale and that is the same
on every retry. Retry decisions come from :mod:`terminal.client.retry` (pure functions);
this module only carries them out. Sleeping, the clock and randomness are injected.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from terminal.client.adapters import (
    ADAPTERS,
    INVOICE_KINDS,
    Adapter,
    AdapterError,
    InvoiceResult,
    PaymentResult,
    RefundResult,
    UnsupportedOperationError,
    choose_version,
)
from terminal.client.retry import (
    CircuitBreaker,
    Decision,
    Failure,
    RetryBudget,
    RetryPolicy,
    decide,
    delay,
    parse_retry_after,
)
from terminal.domain import signing
from terminal.domain.money import Asset, Money
from terminal.domain.quote import Quote

log = logging.getLogger("cryptopos.client")


class BackendError(Exception):
    def __init__(self, title: str, message: str) -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message


class BackendUnavailableError(BackendError):
    """Nothing reached the backend (or the circuit breaker kept us from trying)."""


class CircuitOpenError(BackendUnavailableError):
    pass


class OutcomeUnknownError(BackendError):
    """A write was sent and its fate could not be learned, even by asking."""


class QuoteExpiredError(BackendError):
    """The quote expired before the payment was sent; nothing was sent."""


class BadAnswerError(BackendError):
    """The backend answered something the contract does not allow."""


class UnsupportedError(BackendError):
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


class VersionSunsetError(ProblemError):
    pass


@dataclass(frozen=True, slots=True)
class DeprecationNotice:
    """What a deprecated API version told us about itself (``Deprecation``/``Sunset``/``Link``)."""

    api: str  # "payments/v1"
    deprecation: str
    sunset: str | None
    link: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Per phase, as httpx understands them."""

    connect_s: float = 2.0
    read_s: float = 10.0
    write_s: float = 5.0
    pool_s: float = 2.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_s, read=self.read_s, write=self.write_s, pool=self.pool_s)


@dataclass(slots=True)
class ClientStats:
    attempts: int = 0
    retries: int = 0
    inquiries: int = 0
    replayed: int = 0  # answers the backend replayed for an idempotency key
    by_outcome: dict[str, int] = field(default_factory=dict)


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


def _timeouts(given: Timeouts | None, connect: float | None, request: float | None) -> Timeouts:
    t = given or Timeouts()
    if connect is not None or request is not None:
        t = Timeouts(
            connect_s=t.connect_s if connect is None else connect,
            read_s=t.read_s if request is None else request,
            write_s=t.write_s,
            pool_s=t.pool_s,
        )
    return t


def _failure_of(exc: httpx.TransportError) -> Failure:
    # Only these guarantee that no byte of the request reached the backend.
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure.NOT_SENT
    return Failure.NO_ANSWER


def _problem(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can decode
        data = None
    if isinstance(data, dict):
        return data
    return {"title": f"HTTP {resp.status_code}", "detail": f"HTTP {resp.status_code} without problem details"}


def _unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64url: {exc}") from exc


def _slug(problem: dict[str, Any]) -> str:
    return str(problem.get("type", "")).rsplit("/", 1)[-1]


class BackendClient:
    """Talks to the backend; the rest of the terminal sees one model whatever the API version."""

    def __init__(
        self,
        *,
        base_url: str,
        key_id: str,
        secret: bytes,
        transport: httpx.AsyncBaseTransport | None = None,
        api_version: str = "auto",
        timeouts: Timeouts | None = None,
        policy: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        breaker: CircuitBreaker | None = None,
        quote_margin_s: float = 2.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        nonce: Callable[[], str] = lambda: secrets.token_hex(12),
        on_notice: Callable[[DeprecationNotice], None] | None = None,
        quote_keys: dict[str, bytes] | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
    ) -> None:
        """``connect_timeout`` / ``request_timeout``: the walking skeleton's two timeouts, still
        accepted (callers on other branches use them); ``timeouts=`` sets every phase."""
        if api_version not in ("auto", *ADAPTERS):
            raise ValueError(f"api_version must be auto or one of {', '.join(ADAPTERS)}, not {api_version!r}")
        self._key_id = key_id
        self._secret = secret
        self._pinned = None if api_version == "auto" else api_version
        self._adapter: Adapter | None = ADAPTERS[api_version] if self._pinned else None
        self.policy = policy or RetryPolicy()
        self.budget = budget or RetryBudget()
        self.breaker = breaker or CircuitBreaker()
        self.quote_margin_s = quote_margin_s
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._rand = rand
        self._nonce = nonce
        self._on_notice = on_notice
        self.deprecations: dict[str, DeprecationNotice] = {}
        # Ed25519 keys of the rates service (v2 signs quotes): pinned, or fetched once from
        # /rates/v2/keys and refreshed when a quote names a key not seen yet (rotation).
        self._quote_keys: dict[str, bytes] = dict(quote_keys or {})
        self._keys_pinned = quote_keys is not None
        self.stats = ClientStats()
        self.timeouts = _timeouts(timeouts, connect_timeout, request_timeout)
        base = "http://embedded.invalid" if base_url == "embedded" else base_url
        self._http = httpx.AsyncClient(
            base_url=base,
            transport=transport,
            timeout=self.timeouts.httpx(),
            # shorter than uvicorn's 5 s keep-alive, so we never reuse a socket the server closed
            limits=httpx.Limits(keepalive_expiry=4.0),
            headers={"User-Agent": "cryptopos-terminal/0.1"},
        )

    def send_window_s(self) -> float:
        """The longest a write of this client can keep being sent: every attempt taking its full
        pool, connect, write and read timeouts, and the longest wait between two attempts (a
        backoff at its cap, or the longest Retry-After waited for). Until then a request of a
        still-running sender may yet reach the backend."""
        t, p = self.timeouts, self.policy
        per_attempt = t.pool_s + t.connect_s + t.write_s + t.read_s
        wait = max(p.cap_s, p.max_retry_after_s + p.base_s)
        return p.max_attempts * per_attempt + (p.max_attempts - 1) * wait

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing --------------------------------------------------------------------

    async def _attempt(
        self, method: str, path: str, content: bytes, headers: dict[str, str]
    ) -> httpx.Response | Failure:
        """One signed attempt: a response, or how it failed. Feeds the circuit breaker."""
        now = self._monotonic()
        if not self.breaker.allow(now):
            raise CircuitOpenError(
                "Backend unreachable",
                f"too many failures in a row; trying again in {self.breaker.retry_in(now):.0f} s",
            )
        signed = signing.signature_headers(
            key_id=self._key_id,
            secret=self._secret,
            method=method,
            path=path,
            timestamp=int(self._clock()),
            nonce=self._nonce(),
            body=content,
        )
        self.stats.attempts += 1
        self.budget.record_request(now)
        try:
            # a GET goes without a body (not an empty one with Content-Length: 0)
            resp = await self._http.request(
                method, path, content=content or None, headers={**signed, **headers}
            )
        except httpx.TransportError as exc:
            self.breaker.record_failure(self._monotonic())
            log.info("%s %s failed: %s", method, path.split("?", maxsplit=1)[0], type(exc).__name__)
            return _failure_of(exc)
        if resp.status_code >= 500:
            self.breaker.record_failure(self._monotonic())
        else:
            self.breaker.record_success(self._monotonic())
        self._note_deprecation(path, resp)
        if resp.headers.get("Idempotent-Replayed") == "true":
            self.stats.replayed += 1
        return resp

    def _note_deprecation(self, path: str, resp: httpx.Response) -> None:
        dep = resp.headers.get("Deprecation")
        if dep is None:
            return
        api = "/".join(path.lstrip("/").split("/")[:2])
        if api in self.deprecations:
            return
        notice = DeprecationNotice(api, dep, resp.headers.get("Sunset"), resp.headers.get("Link"))
        self.deprecations[api] = notice
        log.warning(
            "backend API %s is deprecated (sunset %s); successor: %s", api, notice.sunset, notice.link
        )
        if self._on_notice is not None:
            self._on_notice(notice)

    async def _wait(self, attempt: int, resp: httpx.Response | None) -> bool:
        """Sleep before retry ``attempt``; False when the budget or Retry-After says stop."""
        now = self._monotonic()
        if not self.budget.can_retry(now):
            log.warning("retry budget exhausted; not retrying")
            return False
        after = parse_retry_after(resp.headers.get("Retry-After"), now=self._clock()) if resp else None
        wait = delay(policy=self.policy, attempt=attempt, rand=self._rand(), retry_after=after)
        if wait is None:
            return False
        self.budget.record_retry(now)
        self.stats.retries += 1
        await self._sleep(wait)
        return True

    async def _read(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request without side effects worth guarding (reads, quotes): retried freely."""
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(method, path, content, headers)
            if isinstance(outcome, httpx.Response):
                if outcome.status_code < 400:
                    return self._json(outcome)
                decision = decide(
                    policy=self.policy, attempt=attempt, write=False, status=outcome.status_code
                )
                if _slug(_problem(outcome)).startswith("rate-sources-"):
                    # a refusal to quote is an answer for the cashier now, not a hiccup to wait out
                    decision = Decision.GIVE_UP
                if decision is not Decision.RETRY or not await self._wait(attempt, outcome):
                    raise self._error(outcome)
            else:
                decision = decide(policy=self.policy, attempt=attempt, write=False, failure=outcome)
                if decision is not Decision.RETRY or not await self._wait(attempt, None):
                    what = "cannot connect" if outcome is Failure.NOT_SENT else "no answer"
                    raise BackendUnavailableError("Backend unreachable", f"{what} after {attempt} attempt(s)")

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            data = resp.json()
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json can decode
            data = None
        if not isinstance(data, dict):
            raise BadAnswerError("Backend sent an unreadable answer", f"HTTP {resp.status_code}, not JSON")
        return data

    @staticmethod
    def _error(resp: httpx.Response) -> ProblemError:
        problem = _problem(resp)
        if resp.status_code == 410 and _slug(problem) == "version-sunset":
            return VersionSunsetError(resp.status_code, problem)
        return ProblemError(resp.status_code, problem)

    async def adapter(self) -> Adapter:
        """The adapter of the negotiated (or pinned) API version."""
        if self._adapter is None:
            try:
                self._adapter = ADAPTERS[choose_version(await self.discover())]
            except AdapterError as exc:
                raise BadAnswerError("Backend API not usable", str(exc)) from exc
            log.info("backend API %s negotiated", self._adapter.version)
        return self._adapter

    async def _renegotiate_on_sunset(self, exc: VersionSunsetError) -> None:
        if self._pinned:
            raise BackendError(
                "Backend API version retired",
                f"{self._pinned} is past its sunset; set backend.api_version = 'auto' or a newer version",
            ) from exc
        self._adapter = None

    # -- API -------------------------------------------------------------------------

    async def discover(self) -> dict[str, Any]:
        return await self._read("GET", "/discovery")

    @property
    def api_version(self) -> str | None:
        return self._adapter.version if self._adapter else None

    async def quote(self, amount: Money, crypto: Asset) -> Quote:
        for _ in range(2):
            adapter = await self.adapter()
            path, body = adapter.quote_request(amount, crypto)
            try:
                data = await self._read("POST", path, body)
            except VersionSunsetError as exc:
                await self._renegotiate_on_sunset(exc)
                continue
            except ProblemError as exc:
                raise QuoteRefusedError(exc.status, exc.problem) from exc
            try:
                quote = adapter.parse_quote(data, amount, crypto)
                if adapter.version == "v2":
                    await self._verify_quote_signature(data)
                return quote
            except AdapterError as exc:
                # A nonsense quote is refused, never shown: no 1-satoshi invoices.
                raise QuoteRefusedError(
                    502, {"title": "Backend sent a bad quote", "detail": str(exc), "type": "bad-quote"}
                ) from exc
        raise BackendError("Backend API version retired", "no usable API version after renegotiating")

    async def _verify_quote_signature(self, doc: dict[str, Any]) -> None:
        """A v2 quote is signed by the rates service; a quote that fails the check is refused."""
        sig = doc.get("signature")
        if not isinstance(sig, dict) or sig.get("alg") != "Ed25519":
            raise AdapterError("the quote is not signed with Ed25519")
        key_id, value = sig.get("key_id"), sig.get("value")
        if not isinstance(key_id, str) or not isinstance(value, str):
            raise AdapterError("the quote's signature has no key id or value")
        if key_id not in self._quote_keys and not self._keys_pinned:
            self._quote_keys.update(await self._fetch_quote_keys())
        public = self._quote_keys.get(key_id)
        if public is None:
            raise AdapterError(f"the quote is signed by an unknown key {key_id!r}")
        unsigned = {k: v for k, v in doc.items() if k != "signature"}
        canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(_unb64url(value), canonical)
        except (InvalidSignature, ValueError) as exc:
            raise AdapterError("the quote's signature does not verify: it was altered") from exc

    async def _fetch_quote_keys(self) -> dict[str, bytes]:
        data = await self._read("GET", "/rates/v2/keys")
        keys: dict[str, bytes] = {}
        for item in data.get("keys") or []:
            if isinstance(item, dict) and item.get("alg") == "Ed25519":
                try:
                    raw = _unb64url(str(item["public_key"]))
                except (KeyError, ValueError) as exc:
                    raise AdapterError("the rates service lists a malformed key") from exc
                if len(raw) == 32:
                    keys[str(item.get("key_id"))] = raw
        return keys

    async def create_payment(
        self,
        *,
        quote: Quote,
        reference: str,
        payload: str,
        idempotency_key: str,
        on_unknown: Callable[[str], None] | None = None,
    ) -> PaymentResult:
        """Submit a payment exactly once. An unknown outcome is never guessed: the backend is asked
        for the payment by ``reference`` first; only when it has none is the same request (same
        key, same body) sent again. Raises :class:`OutcomeUnknownError` when that cannot be learned.

        ``on_unknown(why)`` is called once, before the first inquiry, when the payment may have
        reached the backend without an answer: a journal records that the outcome became unknown
        (and that an inquiry settled it), even when this call goes on to return the result."""
        if quote.expired(self._clock() + self.quote_margin_s):
            raise QuoteExpiredError("Quote expired", "the rate is no longer valid; a new quote is needed")
        adapter = await self.adapter()
        path, body = adapter.payment_request(quote=quote, reference=reference, payload=payload)
        content = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        maybe_sent = False
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await self._attempt("POST", path, content, headers)
            except CircuitOpenError as exc:
                if maybe_sent:
                    # an earlier attempt may have reached the backend: not "nothing was sent"
                    raise OutcomeUnknownError("No answer from the backend", exc.message) from exc
                raise
            resp = outcome if isinstance(outcome, httpx.Response) else None
            if resp is not None:
                if resp.status_code < 400:
                    return self._parse_payment(adapter, self._json(resp))
                problem = _problem(resp)
                slug = _slug(problem)
                if resp.status_code == 409 and slug == "duplicate-reference":
                    # the backend already has a payment for this sale: that is the result
                    found = await self.find_by_reference(reference)
                    if found is None:
                        raise BadAnswerError("Backend contradicts itself", "duplicate reference not found")
                    return found
                if resp.status_code == 409 and slug == "idempotency-in-flight":
                    decision = Decision.INQUIRE
                else:
                    decision = decide(
                        policy=self.policy, attempt=attempt, write=True, status=resp.status_code
                    )
                if decision is Decision.GIVE_UP:
                    if resp.status_code == 409 and slug == "quote-expired":
                        raise QuoteExpiredError(
                            "Quote expired", "the backend says the rate is no longer valid"
                        )
                    if maybe_sent and resp.status_code == 429:
                        raise OutcomeUnknownError(
                            "No answer from the backend", "it is busy; left to reconcile"
                        )
                    raise self._error(resp)
            else:
                assert isinstance(outcome, Failure)
                decision = decide(policy=self.policy, attempt=attempt, write=True, failure=outcome)
                if decision is Decision.GIVE_UP:
                    if maybe_sent:
                        raise OutcomeUnknownError(
                            "No answer from the backend", "it may have the payment; left to reconcile"
                        )
                    raise BackendUnavailableError(
                        "Backend unreachable", f"cannot connect after {attempt} attempt(s)"
                    )
            if decision is Decision.INQUIRE:
                if not maybe_sent and on_unknown is not None:
                    why = f"HTTP {resp.status_code}" if resp is not None else "no answer"
                    on_unknown(f"{why}; asking the backend by reference")
                maybe_sent = True
                self.stats.inquiries += 1
                try:
                    found = await self.find_by_reference(reference)
                except BackendError as exc:
                    raise OutcomeUnknownError(
                        "No answer from the backend", f"and asking about the payment failed: {exc.message}"
                    ) from exc
                if found is not None:
                    return found
                if attempt >= self.policy.max_attempts:
                    raise OutcomeUnknownError(
                        "No answer from the backend", "the payment is not there yet; left to reconcile"
                    )
                # the backend has not got it: the same request with the same key is safe
            if not await self._wait(attempt, resp):
                if maybe_sent:
                    raise OutcomeUnknownError(
                        "No answer from the backend", "retries exhausted; left to reconcile"
                    )
                if resp is not None:
                    raise self._error(resp)
                raise BackendUnavailableError("Backend unreachable", "retries exhausted")

    def _parse_payment(self, adapter: Adapter, data: dict[str, Any]) -> PaymentResult:
        try:
            return adapter.parse_payment(data)
        except AdapterError as exc:
            raise BadAnswerError("Backend sent a bad payment", str(exc)) from exc

    async def get_payment(self, payment_id: str) -> PaymentResult:
        adapter = await self.adapter()
        return self._parse_payment(adapter, await self._read("GET", adapter.payment_path(payment_id)))

    async def find_by_reference(self, reference: str) -> PaymentResult | None:
        """The payment the backend holds for the terminal's sale reference, or None."""
        adapter = await self.adapter()
        data = await self._read("GET", adapter.by_reference_path(reference))
        try:
            items = [p for p in adapter.parse_items(data) if p.reference == reference]
        except AdapterError as exc:
            raise BadAnswerError("Backend sent a bad payment list", str(exc)) from exc
        if len(items) > 1:
            # two payments for one sale would be a double charge: never hide it
            raise BadAnswerError(
                "Backend holds two payments for one sale",
                f"reference {reference}: {', '.join(p.payment_id for p in items)}",
            )
        return items[0] if items else None

    async def refund(
        self, *, payment_id: str, amount_minor: int, to: str, idempotency_key: str
    ) -> RefundResult:
        adapter = await self.adapter()
        try:
            path, body = adapter.refund_request(payment_id=payment_id, amount_minor=amount_minor, to=to)
        except UnsupportedOperationError as exc:
            raise UnsupportedError("Refunds not available", str(exc)) from exc
        data = await self._keyed_write(
            path, body, idempotency_key, lost="the refund may have been made; run the refund again"
        )
        try:
            return adapter.parse_refund(data)
        except AdapterError as exc:
            raise BadAnswerError("Backend sent a bad refund", str(exc)) from exc

    async def create_invoice(self, *, quote: Quote, reference: str, idempotency_key: str) -> InvoiceResult:
        """A merchant-presented invoice for ``quote`` (payments v2), of the kind its asset takes."""
        adapter = await self.adapter()
        kind = INVOICE_KINDS.get(quote.crypto.asset.code)
        if kind is None:
            raise UnsupportedError(
                "No invoice for this asset", f"the backend issues no invoice for {quote.crypto.asset.code}"
            )
        try:
            path, body = adapter.invoice_request(quote=quote, reference=reference, kind=kind)
        except UnsupportedOperationError as exc:
            raise UnsupportedError("Invoices not available", str(exc)) from exc
        data = await self._keyed_write(
            path, body, idempotency_key, lost="the invoice may have been made; ask for it again"
        )
        return self._parse_invoice(adapter, data)

    async def get_invoice(self, invoice_id: str) -> InvoiceResult:
        adapter = await self.adapter()
        try:
            path = adapter.invoice_path(invoice_id)
        except UnsupportedOperationError as exc:
            raise UnsupportedError("Invoices not available", str(exc)) from exc
        return self._parse_invoice(adapter, await self._read("GET", path))

    @staticmethod
    def _parse_invoice(adapter: Adapter, data: dict[str, Any]) -> InvoiceResult:
        try:
            return adapter.parse_invoice(data)
        except AdapterError as exc:
            raise BadAnswerError("Backend sent a bad invoice", str(exc)) from exc

    async def request_json(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A signed request outside the payment model (e.g. the emulator's test-mode endpoints
        the demo uses), with the read retry rules. Not for payments: they need a key."""
        return await self._read(method, path, body)

    async def _keyed_write(
        self, path: str, body: dict[str, Any], idempotency_key: str, *, lost: str
    ) -> dict[str, Any]:
        """A write whose resend with the same key is answered from the backend's idempotency
        store: so after a lost answer the resend itself is the inquiry."""
        content = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        maybe_sent = False  # an earlier attempt may have reached the backend
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await self._attempt("POST", path, content, headers)
            except CircuitOpenError as exc:
                if maybe_sent:
                    raise OutcomeUnknownError("No answer from the backend", lost) from exc
                raise
            if isinstance(outcome, httpx.Response):
                if outcome.status_code < 400:
                    return self._json(outcome)
                if outcome.status_code == 409 and _slug(_problem(outcome)) == "idempotency-in-flight":
                    decision = Decision.RETRY  # the same write is being made right now: wait for it
                else:
                    decision = decide(
                        policy=self.policy, attempt=attempt, write=True, status=outcome.status_code
                    )
                if decision is Decision.GIVE_UP:
                    if maybe_sent:
                        # a refusal of the resend says nothing about the earlier attempt, which
                        # may have been carried out: never reported as a plain failure
                        raise OutcomeUnknownError("No answer from the backend", lost)
                    raise self._error(outcome)
                if decision is Decision.INQUIRE:
                    maybe_sent = True
            else:
                decision = decide(policy=self.policy, attempt=attempt, write=True, failure=outcome)
                if decision is Decision.GIVE_UP:
                    if maybe_sent:
                        raise OutcomeUnknownError("No answer from the backend", lost)
                    raise BackendUnavailableError("Backend unreachable", "the request was not sent")
                if decision is Decision.INQUIRE:
                    maybe_sent = True
            if attempt >= self.policy.max_attempts or not await self._wait(
                attempt, outcome if isinstance(outcome, httpx.Response) else None
            ):
                raise OutcomeUnknownError("No answer from the backend", lost)

"""The backend's API as the terminal sees it: one model whatever the API version.

Every request is HMAC-signed (a fresh nonce per attempt, :mod:`terminal.client.http`); every
write carries an ``Idempotency-Key`` that the caller derives from the journaled sale and that is
the same on every retry, and goes through the one exactly-once loop
(:mod:`terminal.client.writes`). Retry decisions come from :mod:`terminal.client.retry` (pure
functions). Sleeping, the clock and randomness are injected.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from terminal.client.adapters import (
    ADAPTERS,
    INVOICE_KINDS,
    Adapter,
    AdapterError,
    Approval,
    InvoiceResult,
    PaymentResult,
    RefundResult,
    StaffMember,
    UnsupportedOperationError,
    choose_version,
)
from terminal.client.errors import (
    BackendError,
    BadAnswerError,
    ProblemError,
    QuoteExpiredError,
    QuoteRefusedError,
    UnsupportedError,
    VersionSunsetError,
)
from terminal.client.options import DeprecationNotice, Timeouts, timeouts_of
from terminal.client.quotes import QuoteKeys
from terminal.client.retry import CircuitBreaker, RetryBudget, RetryPolicy
from terminal.client.writes import ExactlyOnceWriter, InFlight
from terminal.domain.money import Asset, Money
from terminal.domain.quote import Quote

log = logging.getLogger("cryptopos.client")


class BackendClient(ExactlyOnceWriter):
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
        super().__init__(
            base_url=base_url,
            key_id=key_id,
            secret=secret,
            transport=transport,
            timeouts=timeouts_of(timeouts, connect_timeout, request_timeout),
            policy=policy,
            budget=budget,
            breaker=breaker,
            clock=clock,
            monotonic=monotonic,
            sleep=sleep,
            rand=rand,
            nonce=nonce,
            on_notice=on_notice,
        )
        self._pinned = None if api_version == "auto" else api_version
        self._adapter: Adapter | None = ADAPTERS[api_version] if self._pinned else None
        self.quote_margin_s = quote_margin_s
        self._quote_keys = QuoteKeys(quote_keys, lambda: self._read("GET", "/rates/v2/keys"))

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
                    await self._quote_keys.verify(data)
                return quote
            except AdapterError as exc:
                # A nonsense quote is refused, never shown: no 1-satoshi invoices.
                raise QuoteRefusedError(
                    502, {"title": "Backend sent a bad quote", "detail": str(exc), "type": "bad-quote"}
                ) from exc
        raise BackendError("Backend API version retired", "no usable API version after renegotiating")

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
        try:
            return await self._write_once(
                path,
                body,
                idempotency_key,
                parse=lambda data: self._parse_payment(adapter, data),
                in_flight=InFlight.INQUIRE,
                inquire=lambda: self.find_by_reference(reference),
                lost="left to reconcile",
                on_unknown=on_unknown,
            )
        except ProblemError as exc:
            if exc.status == 409 and exc.type == "quote-expired":
                raise QuoteExpiredError(
                    "Quote expired", "the backend says the rate is no longer valid"
                ) from exc
            raise

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
        self,
        *,
        payment_id: str,
        amount_minor: int,
        to: str,
        idempotency_key: str,
        staff_id: str | None = None,
        approval: Approval | None = None,
    ) -> RefundResult:
        """Refund exactly once. ``staff_id``: who asks at the till; ``approval``: a manager's id
        and PIN, checked by the backend itself (the backend leaves the PIN out of the request's
        idempotency fingerprint, and refuses a bad approval without storing the refusal under the
        key, so the same key may be sent again with the right PIN). A refusal for the approval
        is :class:`~terminal.client.errors.ApprovalRefusedError`."""
        adapter = await self.adapter()
        try:
            path, body = adapter.refund_request(
                payment_id=payment_id, amount_minor=amount_minor, to=to, staff_id=staff_id, approval=approval
            )
        except UnsupportedOperationError as exc:
            raise UnsupportedError("Refunds not available", str(exc)) from exc
        data = await self._keyed_write(
            path, body, idempotency_key, lost="the refund may have been made; run the refund again"
        )
        try:
            return adapter.parse_refund(data)
        except AdapterError as exc:
            raise BadAnswerError("Backend sent a bad refund", str(exc)) from exc

    async def list_staff(self) -> list[StaffMember]:
        """The staff the backend knows (ids, names, roles, disabled flags; never a PIN)."""
        adapter = await self.adapter()
        try:
            path = adapter.staff_path()
        except UnsupportedOperationError as exc:
            raise UnsupportedError("Staff not available", str(exc)) from exc
        try:
            data = await self._read("GET", path)
        except ProblemError as exc:
            if exc.status == 404:
                raise UnsupportedError("Staff not available", "this backend keeps no staff list") from exc
            raise
        try:
            return adapter.parse_staff(data)
        except AdapterError as exc:
            raise BadAnswerError("Backend sent a bad staff list", str(exc)) from exc

    async def verify_staff(self, *, staff_id: str, pin: str, purpose: str) -> StaffMember:
        """Have the backend check a manager's PIN for ``purpose`` (sign-in, settings, cancel,
        offline). Sent at most once once it may have arrived (every wrong PIN counts toward the
        manager's lockout). A refusal is :class:`~terminal.client.errors.ApprovalRefusedError`
        (``approval-invalid`` / ``approver-locked``)."""
        adapter = await self.adapter()
        try:
            path = adapter.verify_staff_path()
        except UnsupportedOperationError as exc:
            raise UnsupportedError("Staff not available", str(exc)) from exc
        try:
            data = await self._send_once("POST", path, {"staff_id": staff_id, "pin": pin, "purpose": purpose})
        except ProblemError as exc:
            if exc.status == 404:
                raise UnsupportedError(
                    "Staff not available", "this backend does not check managers' PINs"
                ) from exc
            raise
        try:
            return adapter.parse_verified(data)
        except AdapterError as exc:
            raise BadAnswerError("Backend sent a bad staff answer", str(exc)) from exc

    async def send_heartbeat(self, body: dict[str, Any]) -> None:
        """The till's health (:mod:`terminal.health` builds ``body``), sent once: the next one
        replaces it anyway, so a lost one is not sent again."""
        adapter = await self.adapter()
        try:
            path = adapter.heartbeat_path()
        except UnsupportedOperationError as exc:
            raise UnsupportedError("Heartbeats not available", str(exc)) from exc
        await self._send_once("POST", path, body)

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

    async def _keyed_write(
        self, path: str, body: dict[str, Any], idempotency_key: str, *, lost: str
    ) -> dict[str, Any]:
        """A write without a reference to ask by: the backend answers a resend with the same key
        from its idempotency store, so after a lost answer the resend itself is the inquiry."""
        return await self._write_once(
            path,
            body,
            idempotency_key,
            parse=lambda data: data,
            in_flight=InFlight.WAIT,
            inquire=None,
            lost=lost,
        )

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

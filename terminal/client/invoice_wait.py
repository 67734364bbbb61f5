"""Waiting for a merchant-presented invoice to change: a long-poll where the backend offers one,
polling where it does not.

A till waiting for the customer's wallet used to ask for its invoice twice a second, each ask a
signed request. When discovery lists the ``invoice-wait`` capability for the negotiated
payments version, :class:`InvoiceWaiter` holds one request at a time instead
(``GET /payments/v2/invoices/{id}?wait=N&after=<version>``), which the backend answers as soon
as the invoice changes, or after at most its own limit. Against a backend without the
capability it polls every ``poll_s``. Either way :meth:`InvoiceWaiter.next` returns the invoice
once it differs from the one the till knows, or as it is after about ``wait_s``, so the
caller's loop is the same on both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from terminal.client.adapters import AdapterError, InvoiceResult, UnsupportedOperationError, offers
from terminal.client.client import BackendClient
from terminal.client.errors import BackendError, BadAnswerError, UnsupportedError

__all__ = ["INVOICE_WAIT", "InvoiceWaiter"]

log = logging.getLogger("cryptopos.client")

INVOICE_WAIT = "invoice-wait"  # the discovery capability (docs/api.md)
READ_MARGIN_S = 2.0  # a held request must be answered this long before the client's read timeout


class InvoiceWaiter:
    """Follows invoices for one client; asks discovery once per negotiated API version."""

    def __init__(
        self,
        client: BackendClient,
        *,
        wait_s: float = 20.0,
        poll_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._offered: dict[str, bool] = {}  # API version -> long-poll offered

    async def long_poll(self) -> bool:
        """Whether the backend offers the invoice long-poll on the negotiated payments version."""
        version = (await self.client.adapter()).version
        if version not in self._offered:
            try:
                doc = await self.client.discover()
            except BackendError as exc:
                # not remembered: the next call asks again
                log.info("discovery unavailable (%s); polling the invoice this time", exc.message)
                return False
            self._offered[version] = offers(doc, service="payments", version=version, capability=INVOICE_WAIT)
            log.info(
                "invoice long-poll %s on payments %s",
                "offered" if self._offered[version] else "not offered",
                version,
            )
        return self._offered[version]

    def hold_s(self) -> int:
        """How long to ask the backend to hold a request: at most ``wait_s``, and answered well
        within the client's read timeout (the backend may hold it shorter: its own limit)."""
        return max(1, int(min(self.wait_s, self.client.timeouts.read_s - READ_MARGIN_S)))

    async def next(self, known: InvoiceResult) -> InvoiceResult:
        """The invoice once it is no longer ``known``, or as it is after about ``wait_s``."""
        if known.version is not None and await self.long_poll():
            adapter = await self.client.adapter()
            try:
                path = adapter.invoice_wait_path(known.invoice_id, wait_s=self.hold_s(), after=known.version)
                return adapter.parse_invoice(await self.client.request_json("GET", path))
            except UnsupportedOperationError as exc:
                raise UnsupportedError("Invoices not available", str(exc)) from exc
            except AdapterError as exc:
                raise BadAnswerError("Backend sent a bad invoice", str(exc)) from exc
        deadline = self._monotonic() + self.wait_s
        while True:
            await self._sleep(self.poll_s)
            fresh = await self.client.get_invoice(known.invoice_id)
            if fresh != known or self._monotonic() >= deadline:
                return fresh

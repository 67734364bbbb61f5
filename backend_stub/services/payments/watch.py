"""Long-poll of an invoice: hold a till's request until its invoice changes, cheaply.

``GET /payments/v2/invoices/{id}?wait=N&after=V`` answers at once when the invoice's
``version`` is no longer ``V``; otherwise it holds the request until the invoice changes or N
seconds pass (at most ``ServiceSettings.invoice_wait_max_s``), then answers with the invoice
as it is. A waiting till so holds one connection instead of polling twice a second.

What a held request costs the instance: a change made by this instance (a payment arriving)
wakes its waiters at once through :class:`ChangeBoard` (no I/O); a change made by another
instance sharing the ledger is seen by a one-row read every ``invoice_recheck_s`` (1 s), never
by a busy loop. The wait stays below the gateway's per-try timeout (5 s), so the gateway never
takes a held request for a hung instance; answers carry ``X-Cp-Waited`` (seconds held) so a
latency metric can leave the wait out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["WAITED_HEADER", "ChangeBoard", "wait_for_change"]

WAITED_HEADER = "X-Cp-Waited"


class ChangeBoard:
    """Per instance: who waits on which invoice. Used from the event loop only."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def changed(self, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()

    def waiting(self, key: str) -> int:
        return len(self._waiters.get(key, ()))

    async def wait(self, key: str, timeout_s: float) -> bool:
        """True when :meth:`changed` was called for ``key`` within ``timeout_s``."""
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[key]
        return True


async def wait_for_change(
    board: ChangeBoard,
    key: str,
    *,
    after: str,
    wait_s: float,
    recheck_s: float,
    peek: Callable[[], Awaitable[str | None]],
) -> bool:
    """Wait until ``peek()`` (the current version, or None when the invoice needs a fresh full
    look, e.g. its expiry is due) differs from ``after``, or ``wait_s`` passes. True on change."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        left = deadline - loop.time()
        if left <= 0:
            return False
        await board.wait(key, min(left, recheck_s))
        if await peek() != after:
            return True

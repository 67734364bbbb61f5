"""Quoting and re-quoting: ask the backend for a locked rate and journal it before readers
start, or close the sale with why there is none (a refused quote is never a tiny invoice)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from terminal.client import BackendError, BackendUnavailableError
from terminal.domain import session as s
from terminal.domain.money import Asset, Money

if TYPE_CHECKING:
    from terminal.sale.core import SaleCore


async def request(core: SaleCore, amount: Money, crypto: Asset) -> list[s.Command]:
    """The session asked for a (new) quote: ask for it, unless too many have expired."""
    sess, report = core.session, core.opened
    core.quoting()
    if sess.quotes_requested > core.max_quotes:
        report.reason = f"{core.max_quotes} quotes expired; start the sale again"
        core.journal.update(report.reference, "cancelled", detail="too many quotes")
        core.notice(f"Quotes keep expiring: {report.reason}")
        return sess.handle(s.SaleCancelled())
    t0 = time.perf_counter()
    try:
        quote = await core.client.quote(amount, crypto)
    except BackendUnavailableError as exc:
        core.link(up=False, detail=exc.message)
        return await core.quote_unreachable(exc)
    except BackendError as exc:
        return refuse(core, exc)
    core.link(up=True)
    report.timings_ms["quote"] = (time.perf_counter() - t0) * 1000
    report.crypto, report.rate = quote.crypto, str(quote.rate)
    report.quote_id, report.quote_expires_at = quote.quote_id, quote.expires_at
    core.journal.update(
        report.reference,
        "awaiting_payment",
        crypto_minor=quote.crypto.minor,
        quote_id=quote.quote_id,
        rate=report.rate,  # what a reprinted receipt says the customer paid at
    )
    commands = sess.handle(s.QuoteReceived(quote))
    left = quote.seconds_left(core.clock())
    report.notices.append(f"Quote {quote.crypto.format(trim=True)} valid for {left:.0f} s")
    core.quote_received(quote)
    return commands


def refuse(core: SaleCore, exc: BackendError) -> list[s.Command]:
    """No quote: the journaled sale is closed with the backend's reason, which the cashier sees."""
    report = core.opened
    report.reason = f"No quote: {exc.title}: {exc.message}"
    core.journal.update(report.reference, "cancelled", detail=report.reason)
    core.session.handle(s.QuoteRefused(exc.message))
    core.quote_failed(exc)
    return core.session.handle(s.SaleCancelled()) if core.cancel_on_refused_quote else []

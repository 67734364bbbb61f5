"""Creating a payment (a charge), one piece of code for v1 and v2.

The versions differ only on the wire: how the request writes the crypto amount (v1 a decimal
string in major units, v2 integer minor units) and how the payment is rendered
(:func:`core.doc_v1` / :func:`core.doc_v2`). Validation, the test mode's forced outcomes, the
decision on the customer's payload, the ledger row and idempotency are the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from backend_stub.problems import ResponseDroppedError
from backend_stub.services.common import Context, idempotent_write
from backend_stub.services.payments import core, methods
from backend_stub.store import Row, Tx

__all__ = ["create"]


async def create(
    ctx: Context,
    request: Request,
    *,
    terminal: str,
    key: str | None,
    body: dict[str, Any],
    amount_minor: Callable[[str], int],
    render: Callable[[Row], dict[str, Any]],
) -> JSONResponse:
    """Charge ``body`` (``quote_id``, ``reference``, ``asset``, ``payload`` and a version's
    amount, which ``amount_minor(quote asset code)`` reads in minor units), at most once per key."""
    quote_id, reference, payload = str(body["quote_id"]), str(body["reference"]), str(body["payload"])
    quote = await run_in_threadpool(
        ctx.store.query, lambda db: core.load_quote(db, quote_id, terminal=terminal)
    )
    how = core.behaviour(ctx, payload, quote.fiat_minor)

    def work(db: Tx) -> tuple[int, dict[str, Any]]:
        q = core.load_quote(db, quote_id, terminal=terminal)
        core.check_quote(ctx, q, asset=str(body["asset"]), amount_minor=amount_minor(q.asset))
        core.check_reference(db, terminal=terminal, reference=reference)
        status, reason, method = methods.decide(db, ctx, payload=payload, quote=q, forced=how)
        row = core.insert_payment(
            db, ctx, terminal=terminal, reference=reference, q=q, method=method, status=status, reason=reason
        )
        return 201, render(row)

    def dropped(doc: dict[str, Any]) -> None:
        # test mode "unknown outcome": committed, then the answer is lost
        if how and how.drop and "payment_id" in doc:
            raise ResponseDroppedError

    return await idempotent_write(
        ctx,
        request,
        terminal=terminal,
        key=key,
        body=body,
        work=work,
        before=(lambda: asyncio.sleep(ctx.settings.slow_s)) if how and how.slow else None,
        after_commit=dropped,
    )

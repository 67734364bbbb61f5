"""A refund whose earlier attempt may have reached the backend is never marked plainly failed:
a 4xx on the resend leaves it open (same key) for reconcile, and no new key can pay it twice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from terminal.cli.common import EXIT_UNKNOWN, CliError
from terminal.cli.refund import plan_refund, send_refund
from terminal.client import OutcomeUnknownError
from terminal.journal import Journal
from terminal.settlement import ReconcileReport, _settle_refunds
from tests.client.helpers import Sleeps, make_client

ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def lost_then_401() -> Any:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(401, json={"type": "bad-signature", "title": "Unauthorized", "detail": "clock"})

    return handler, calls


def approved_sale() -> Journal:
    journal = Journal(":memory:")
    journal.open_sale(reference="r1", idempotency_key="k1", fiat_minor=310, fiat_currency="EUR", asset="BTC")
    journal.update("r1", "approved", payment_id="pay_1", crypto_minor=3502)
    return journal


async def test_client_a_4xx_after_a_lost_answer_is_an_unknown_outcome(sleeps: Sleeps) -> None:
    handler, calls = lost_then_401()
    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v2") as c:
        with pytest.raises(OutcomeUnknownError):
            await c.refund(payment_id="pay_1", amount_minor=5, to="0xabc", idempotency_key="RK")
    assert len([p for p in calls if p.endswith("/refunds")]) == 2


async def test_cli_refund_stays_open_and_no_second_key_is_possible(sleeps: Sleeps) -> None:
    journal = approved_sale()
    planned = plan_refund(journal, "pay_1", None, ADDRESS)
    handler, _ = lost_then_401()
    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v2") as c:
        code, out = await send_refund(c, journal, planned)
    assert code == EXIT_UNKNOWN and out["status"] == "unknown"
    assert journal.refund(planned.idempotency_key).state == "unknown_outcome"  # type: ignore[union-attr]
    # asked again with an explicit amount: the same refund (same key), never a new one
    again = plan_refund(journal, "pay_1", "0.00003502", ADDRESS)
    assert again.idempotency_key == planned.idempotency_key
    with pytest.raises(CliError):
        plan_refund(journal, "pay_1", "0.00000001", ADDRESS)  # nothing is left while it is open


async def test_cli_a_resend_refused_with_4xx_is_not_failed(sleeps: Sleeps) -> None:
    journal = approved_sale()
    planned = plan_refund(journal, "pay_1", None, ADDRESS)
    journal.update_refund(planned.idempotency_key, "unknown_outcome", detail="no answer")
    reopened = plan_refund(journal, "pay_1", None, ADDRESS)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"type": "bad-signature", "title": "Unauthorized", "detail": "x"})

    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v2") as c:
        code, _ = await send_refund(c, journal, reopened, resend=True)
    assert code == EXIT_UNKNOWN
    assert journal.refund(planned.idempotency_key).state == "unknown_outcome"  # type: ignore[union-attr]


async def test_reconcile_keeps_a_refused_resend_open(sleeps: Sleeps) -> None:
    journal = approved_sale()
    planned = plan_refund(journal, "pay_1", None, ADDRESS)
    journal.update_refund(planned.idempotency_key, "unknown_outcome", detail="no answer")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"type": "bad-signature", "title": "Unauthorized", "detail": "x"})

    report = ReconcileReport()
    async with make_client(httpx.MockTransport(handler), sleeps, api_version="v2") as c:
        await _settle_refunds(c, journal, report)
    assert journal.refund(planned.idempotency_key).state == "unknown_outcome"  # type: ignore[union-attr]
    assert f"refund:{planned.idempotency_key}" in report.left

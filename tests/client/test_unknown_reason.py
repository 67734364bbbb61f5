"""An unknown outcome is said in a sentence a cashier can act on: what is known (it may have been
charged), why it is not known, and the next step (reconcile; never take it again)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from terminal.cli.pay import human_summary
from terminal.domain.money import Money, asset
from terminal.journal import Journal
from terminal.sale import SaleRunner
from tests.client.helpers import Backend, Sleeps, make_client


class UpstreamDownForInquiries(httpx.AsyncBaseTransport):
    """The payment is committed and its answer lost (the emulator's 'unknown' card); every
    question about it then meets a gateway whose upstream is gone (502)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "reference=" in str(request.url):
            body = {
                "type": "https://cryptopos.dev/problems/upstream-unavailable",
                "title": "Bad gateway",
                "status": 502,
                "detail": "Upstream connect error",
            }
            return httpx.Response(502, json=body, headers={"content-type": "application/problem+json"})
        return await self.inner.handle_async_request(request)


async def test_an_unknown_outcome_reads_well_and_says_what_to_do(tmp_path: Path) -> None:
    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    async with make_client(UpstreamDownForInquiries(backend.transport()), Sleeps()) as c:
        runner = SaleRunner(
            client=c,
            journal=journal,
            terminal_id="t",
            readers=["sim:nfc?payload=cryptopos-test:card:unknown"],
            payment_wait_s=10,
            inquiry_delay_s=0,
            inquiry_attempts=2,
        )
        report = await runner.run(Money(450, asset("EUR")), asset("BTC"))
    assert report.status == "unknown"
    reason = report.reason or ""
    assert reason[0].isupper() and not reason.lower().startswith("and ")
    assert "may have been charged" in reason and "Upstream connect error" in reason
    assert report.next_step is not None and "cryptopos reconcile" in report.next_step
    assert "do not take it again" in report.next_step
    text = human_summary(report)
    assert "\n          next: run `cryptopos reconcile`" in text
    assert json.loads(json.dumps(report.to_json()))["next_step"] == report.next_step
    assert len(backend.payments()) == 1  # it was charged; only the answer was lost

"""An instance's admission (backend_stub.admission): concurrency limit, shedding by priority,
body cap and malformed paths, on a tiny ASGI app whose requests we hold open."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from backend_stub.admission import (
    HELD,
    POLL,
    QUOTE,
    WRITE,
    AdmissionLimits,
    AdmissionMiddleware,
    PriorityLimiter,
    priority,
)
from backend_stub.transport import InProcessTransport


@pytest.mark.parametrize(
    ("method", "target", "klass"),
    [
        ("POST", b"/payments/v2/payments", WRITE),
        ("POST", b"/payments/v1/payments", WRITE),
        ("POST", b"/payments/v2/payments/p1/refunds", WRITE),
        ("POST", b"/payments/v2/invoices", WRITE),
        ("GET", b"/payments/v2/payments/p1", WRITE),
        ("GET", b"/payments/v2/payments?reference=r1", WRITE),
        ("POST", b"/rates/v2/quotes", QUOTE),
        ("GET", b"/payments/v2/invoices/i1", POLL),
        ("GET", b"/payments/v2/invoices/i1?wait=0&after=0123456789abcdef", POLL),
        ("GET", b"/payments/v2/invoices/i1?wait=20", POLL),  # no version to wait past: answered at once
        ("GET", b"/payments/v2/invoices/i1?wait=20&after=0123456789abcdef", HELD),
        ("GET", b"/payments/v2/payments?status=approved", POLL),
        ("GET", b"/rates/v2/keys", POLL),
        ("GET", b"/healthz", None),
        ("GET", b"/readyz", None),
        ("GET", b"/discovery", None),
    ],
)
def test_payments_and_inquiries_first_then_quotes_then_polls(
    method: str, target: bytes, klass: int | None
) -> None:
    path, _, query = target.partition(b"?")
    assert priority(method, path, query) == klass


async def test_a_full_house_queues_by_class_and_sheds_the_lowest_first() -> None:
    lim = PriorityLimiter(AdmissionLimits(max_concurrency=1, max_queue=2, max_wait_s=(10.0, 10.0, 10.0)))
    assert await lim.acquire(POLL)  # holds the only slot
    poll = asyncio.ensure_future(lim.acquire(POLL))
    quote = asyncio.ensure_future(lim.acquire(QUOTE))
    await asyncio.sleep(0)
    assert lim.waiting == 2
    payment = asyncio.ensure_future(lim.acquire(WRITE))  # queue full: the poll makes room
    assert await poll is False
    another_poll = await lim.acquire(POLL)  # nothing below a poll: shed at once
    assert another_poll is False
    lim.release()  # the slot goes to the payment, though it came last
    assert await payment is True and not quote.done()
    lim.release()
    assert await quote is True
    lim.release()
    assert lim.active == 0 and lim.waiting == 0
    assert lim.shed == [0, 0, 2] and lim.admitted == [1, 1, 1]


async def test_a_waiter_is_shed_after_its_class_wait_and_an_admitted_one_never() -> None:
    lim = PriorityLimiter(AdmissionLimits(max_concurrency=1, max_queue=10, max_wait_s=(5.0, 0.05, 0.05)))
    assert await lim.acquire(WRITE)
    quote = asyncio.ensure_future(lim.acquire(QUOTE))
    payment = asyncio.ensure_future(lim.acquire(WRITE))
    await asyncio.sleep(0.2)
    assert quote.done() and quote.result() is False  # waited its 50 ms
    assert not payment.done()  # a payment waits up to 5 s
    lim.release()
    assert await payment is True
    lim.release()


async def test_a_cancelled_waiter_leaves_the_queue_and_never_holds_a_slot() -> None:
    lim = PriorityLimiter(AdmissionLimits(max_concurrency=1, max_queue=10))
    assert await lim.acquire(WRITE)
    waiter = asyncio.ensure_future(lim.acquire(WRITE))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert lim.waiting == 0
    lim.release()
    assert lim.active == 0


class Held:
    """An app whose every request waits until the test lets it go; counts what ran."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        self.started.append(scope["path"])
        await self.gate.wait()
        out = json.dumps({"path": scope["path"], "got": len(body)}).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(out))]}
        )
        await send({"type": "http.response.body", "body": out})


async def test_overload_sheds_polls_with_503_and_retry_after_and_every_payment_runs() -> None:
    app = Held()
    mw = AdmissionMiddleware(
        app, AdmissionLimits(max_concurrency=2, max_queue=4, max_wait_s=(30.0, 30.0, 30.0))
    )
    async with httpx.AsyncClient(transport=InProcessTransport(mw), base_url="http://i") as c:
        polls = [asyncio.ensure_future(c.get(f"/payments/v2/invoices/i{n}")) for n in range(6)]
        await asyncio.sleep(0.05)
        payments = [asyncio.ensure_future(c.post("/payments/v2/payments", content=b"{}")) for _ in range(4)]
        await asyncio.sleep(0.05)
        app.gate.set()
        poll_rs = await asyncio.gather(*polls)
        pay_rs = await asyncio.gather(*payments)
    assert [r.status_code for r in pay_rs] == [200] * 4  # every payment ran
    shed = [r for r in poll_rs if r.status_code == 503]
    assert len(shed) == 4  # 2 polls ran first; the other 4 queued and made room for the payments
    assert all(r.headers["retry-after"] == "1" and r.headers["x-cp-shed"] == "1" for r in shed)
    assert shed[0].json()["type"].endswith("/overloaded")
    assert mw.limiter.as_json()["shed"] == {"payments": 0, "quotes": 0, "polls": 4}


async def test_probes_bypass_a_full_instance() -> None:
    app = Held()
    mw = AdmissionMiddleware(app, AdmissionLimits(max_concurrency=1, max_queue=0))
    async with httpx.AsyncClient(transport=InProcessTransport(mw), base_url="http://i") as c:
        busy = asyncio.ensure_future(c.post("/payments/v2/payments", content=b"{}"))
        await asyncio.sleep(0.05)
        probe = asyncio.ensure_future(c.get("/readyz"))
        await asyncio.sleep(0.05)
        assert app.started == ["/payments/v2/payments", "/readyz"]
        app.gate.set()
        assert (await probe).status_code == 200 and (await busy).status_code == 200


async def test_bodies_over_the_cap_are_413_and_read_no_further() -> None:
    app = Held()
    app.gate.set()
    mw = AdmissionMiddleware(app, AdmissionLimits(max_body_bytes=1024))
    async with httpx.AsyncClient(transport=InProcessTransport(mw), base_url="http://i") as c:
        big = await c.post("/payments/v2/payments", content=b"x" * 1025)
        ok = await c.post("/payments/v2/payments", content=b"x" * 1024)

        async def chunks() -> Any:
            for _ in range(4):
                yield b"y" * 400

        chunked = await c.post("/payments/v2/payments", content=chunks())
    assert big.status_code == 413 and big.json()["type"].endswith("/body-too-large")
    assert ok.status_code == 200 and ok.json()["got"] == 1024
    assert chunked.status_code == 413
    assert app.started == ["/payments/v2/payments"]
    assert mw.refused["too_large"] == 2


async def test_a_malformed_path_is_400_before_the_app() -> None:
    app = Held()
    mw = AdmissionMiddleware(app)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/payments/v2/payments/\x00",
        "raw_path": b"/payments/v2/payments/%00",
        "query_string": b"",
        "headers": [],
    }
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(m: Any) -> None:
        sent.append(m)

    await mw(scope, receive, send)
    assert sent[0]["status"] == 400 and b"malformed-path" in sent[1]["body"]
    assert app.started == []


async def test_long_polls_take_no_slot_and_are_capped_on_their_own() -> None:
    """Waiting tills must not stand between a payment and the instance."""
    app = Held()
    mw = AdmissionMiddleware(app, AdmissionLimits(max_concurrency=1, max_queue=0, max_held=2))
    poll = "/payments/v2/invoices/i1?wait=20&after=0123456789abcdef"
    async with httpx.AsyncClient(transport=InProcessTransport(mw), base_url="http://i") as c:
        held = [asyncio.ensure_future(c.get(poll)) for _ in range(2)]
        await asyncio.sleep(0.05)
        third = await c.get(poll)  # over max_held: shed
        payment = asyncio.ensure_future(c.post("/payments/v2/payments", content=b"{}"))
        await asyncio.sleep(0.05)
        assert app.started.count("/payments/v2/payments") == 1  # it got the one slot
        app.gate.set()
        assert (await payment).status_code == 200
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
    assert third.status_code == 503 and third.headers["x-cp-shed"] == "1"
    assert mw.held == 0 and mw.refused["held_over_limit"] == 1

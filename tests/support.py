"""Helpers shared by the whole suite (import them; pytest fixtures live in conftest.py files)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from backend_stub.settings import RefundPolicy
from terminal.domain.money import ASSETS, AssetKind
from terminal.journal import RefundRecord, SaleRecord

# A refund policy that asks no approval and sets no daily limit: for tests of something other
# than the policy (a till that sends no approval). tests/backend/test_backend_staff.py tests the
# policy, and the contract's default (an approval for every refund).
NO_APPROVAL = RefundPolicy(
    window_days=3650,
    approval_above={a.code: 10**12 for a in ASSETS.values() if a.kind is AssetKind.FIAT},
)


def shows(secret: str, text: str | bytes) -> bool:
    """Whether ``secret`` (a PIN) appears in ``text`` as a value of its own.

    Not as four digits inside a random hex id, salt or hash: ``"1357" in text`` also finds
    ``…fdfd1357e7…`` in a payment id, about once in 1,600 ids, and a test that asks "is the
    PIN in this answer?" must not fail on that."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return re.search(rf"(?<![0-9A-Za-z+/]){re.escape(secret)}(?![0-9A-Za-z+/])", text) is not None


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app on a real uvicorn server on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def sale_record(state: str, fiat_minor: int, code: str = "BTC", **changes: Any) -> SaleRecord:
    """A journal row of a sale, for code that reads records (reports, receipts)."""
    values: dict[str, Any] = {
        "reference": f"r-{state}-{fiat_minor}-{code}",
        "idempotency_key": f"k-{state}-{fiat_minor}-{code}",
        "fiat_minor": fiat_minor,
        "fiat_currency": "EUR",
        "asset": code,
        "crypto_minor": None,
        "quote_id": None,
        "payload_hash": None,
        "state": state,
        "payment_id": None,
        "reason": None,
        "created_at": 0.0,
        "updated_at": 0.0,
    }
    values.update(changes)
    return SaleRecord(**values)


def refund_record(state: str, amount_minor: int, code: str = "BTC", at: float = 0.0) -> RefundRecord:
    return RefundRecord(
        idempotency_key=f"rk-{state}-{amount_minor}",
        payment_id="pay_1",
        reference="r-1",
        amount_minor=amount_minor,
        asset=code,
        to_address="bc1q",
        state=state,
        refund_id=None,
        detail=None,
        created_at=at,
        updated_at=at,
    )

"""What the reliability tests share: a real uvicorn on loopback in a thread, sales run through
the SaleRunner with the simulated reader, and the ledger check."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn

from terminal.client import BackendClient, RetryPolicy
from terminal.domain.money import Asset, Money, asset
from terminal.journal import Journal
from terminal.sale import OfflinePolicy, SaleReport, SaleRunner
from tests.client.helpers import KEY_ID, SECRET, Backend

__all__ = ["KEY_ID", "SECRET", "Backend"]
EUR, BTC = asset("EUR"), asset("BTC")
APPROVE = "cryptopos-test:card:approve"


class NoSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(
    transport: httpx.AsyncBaseTransport | None,
    *,
    base_url: str = "http://backend.test",
    api_version: str = "v2",
    **kw: Any,
) -> BackendClient:
    kw.setdefault("policy", RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.05))
    return BackendClient(
        base_url=base_url, key_id=KEY_ID, secret=SECRET, transport=transport, api_version=api_version, **kw
    )


async def run_sales(
    c: BackendClient,
    journal: Journal,
    payloads: Iterable[str],
    *,
    amount: Money | None = None,
    offline: OfflinePolicy | None = None,
    wait_s: float = 5.0,
    crypto: Asset = BTC,
) -> list[SaleReport]:
    reports = []
    for payload in payloads:
        runner = SaleRunner(
            client=c,
            journal=journal,
            terminal_id="t_rel",
            readers=[f"sim:nfc?payload={quote(payload, safe='')}&delay=0"],
            payment_wait_s=wait_s,
            offline=offline,
            inquiry_delay_s=0.0,
        )
        reports.append(await runner.run(amount or Money(1250, EUR), crypto))
    return reports


def ledger(backend: Backend) -> list[tuple[str, str, str]]:
    """(reference, payment_id, status) of every payment the backend holds, in the order taken."""
    return [(p["reference"], p["payment_id"], p["status"]) for p in backend.payments()]


def assert_ledger_agrees(journal: Journal, payments: list[tuple[str, str, str]]) -> None:
    """Every approved payment exactly once, in the journal and on the backend, and nothing open."""
    per_ref = Counter(ref for ref, _, _ in payments)
    assert all(n == 1 for n in per_ref.values()), f"charged twice: {per_ref.most_common(3)}"
    backend = {ref: (pid, status) for ref, pid, status in payments}
    sales = {s.reference: s for s in journal.sales()}
    stuck = [s.reference for s in sales.values() if not s.final]
    assert not stuck, f"sales left open: {stuck}"
    unknown = set(backend) - set(sales)
    assert not unknown, f"the backend charged sales the journal never had: {unknown}"
    for ref, s in sales.items():
        if ref in backend:
            pid, status = backend[ref]
            assert (s.state, s.payment_id) == (status, pid), f"{ref}: journal {s.state}, backend {status}"
        else:
            # not on the backend: the journal must not claim a charge
            assert s.state in ("failed", "cancelled", "expired", "declined"), (
                f"{ref}: {s.state} but not charged"
            )


class ThreadServer:
    """The stub app served by uvicorn on 127.0.0.1 in a thread; restartable on the same port."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_keep_alive=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

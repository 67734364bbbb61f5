"""A till wired to the real emulated backend in-process, a real SQLite journal and real
simulated readers, with one fake clock shared by the terminal and the backend."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from backend_stub.app import create_app
from backend_stub.services.common import Context
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from drivers import Reader, open_reader
from terminal.client import BackendClient
from terminal.config import load_settings
from terminal.journal import Journal
from terminal.tui.app import PosApp
from terminal.tui.controller import Register
from terminal.tui.updates import InvoiceDesk

KEY_ID = "t_test_01"
SECRET = b"test-secret-0123456789"
# 2026-03-14 12:00:00 UTC: a fixed moment for snapshots and receipts
T0 = 1_773_489_600.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FaultyTransport(httpx.AsyncBaseTransport):
    """The backend behind switches a test flips: down (nothing reaches it) or answers lost
    (the request is served, the response dropped, as on a cut connection)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.drop_next_answers = 0  # of writes (POST)
        self.requests: list[str] = []
        self.targets: list[str] = []  # as requests, with the query ("GET /path?wait=8&after=...")
        self.discovery_notices: list[str] = []  # what a gateway adds during a rollout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        self.targets.append(f"{request.method} {request.url.raw_path.decode()}")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/discovery" and self.discovery_notices:
            doc = json.loads(await response.aread())
            doc["notices"] = [*doc.get("notices", []), *self.discovery_notices]
            return httpx.Response(200, json=doc)
        if request.method == "POST" and "/payments" in request.url.path and self.drop_next_answers:
            self.drop_next_answers -= 1
            await response.aread()
            raise httpx.ReadTimeout("no answer", request=request)
        return response


async def no_sleep(_seconds: float) -> None:
    return None


def make_client(
    transport: httpx.AsyncBaseTransport,
    clock: FakeClock,
    cls: type[BackendClient] = BackendClient,
    *,
    api_version: str = "auto",
) -> BackendClient:
    """The backend client on the fake clock. A client with its own retry waits and breaker
    (``sleep``/``monotonic`` options) gets them on the fake clock too, so tests never sleep."""
    options: dict[str, Any] = {"api_version": api_version}
    accepted = inspect.signature(cls).parameters
    if "sleep" in accepted:
        options["sleep"] = no_sleep
    if "monotonic" in accepted:
        options["monotonic"] = clock
    return cls(base_url="embedded", key_id=KEY_ID, secret=SECRET, transport=transport, clock=clock, **options)


class References:
    """Deterministic sale references, so snapshots and receipts do not change between runs."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, terminal_id: str) -> str:
        self.count += 1
        return f"{terminal_id}-{self.count:04d}"


@dataclass
class Backend:
    """The emulated backend's ledger, seen the way its operators would query it."""

    store: Store
    context: Context

    def payments(self) -> list[dict[str, Any]]:
        rows = self.store.fetch_all("SELECT * FROM payments ORDER BY seq")
        return [dict(r) for r in rows]

    def payment(self, payment_id: str) -> dict[str, Any]:
        [found] = [p for p in self.payments() if p["payment_id"] == payment_id]
        return found


@dataclass
class Till:
    app: PosApp
    register: Register
    journal: Journal
    backend: Backend
    transport: FaultyTransport
    clock: FakeClock

    def close(self) -> None:
        self.journal.close()
        self.backend.store.close()


def make_till(
    tmp_path: Path,
    *,
    readers: tuple[str, ...] = ("sim:nfc?count=0", "sim:qr?count=0"),
    demo: bool = True,
    quote_ttl_s: float = 60.0,
    payment_wait_s: float = 120.0,
    invoices: Callable[[BackendClient], InvoiceDesk] | None = None,
    extra: dict[str, Any] | None = None,
    reader_factory: Callable[[str], Reader] = open_reader,
    reconcile_s: float = 3600,
    service: dict[str, Any] | None = None,
    **register_options: Any,
) -> Till:
    clock = FakeClock()
    tmp_path.mkdir(parents=True, exist_ok=True)
    store = Store(tmp_path / "ledger.sqlite3")
    api = create_app(
        store=store,
        settings=ServiceSettings(
            keys={KEY_ID: SECRET}, clock=clock, quote_ttl_s=quote_ttl_s, **(service or {})
        ),
    )
    backend = Backend(store, api.state.context)
    transport = FaultyTransport(InProcessTransport(api))
    overrides: dict[str, tuple[Any, str]] = {
        "terminal.readers": (list(readers), "test"),
        "signing.key_id": (KEY_ID, "test"),
        "signing.secret": (SECRET.decode(), "test"),
        "journal.path": (str(tmp_path / "journal.sqlite3"), "test"),
        "timeouts.payment_wait_s": (payment_wait_s, "test"),
        "terminal.id": ("t_test_01", "test"),
        **{k: (v, "test") for k, v in (extra or {}).items()},
    }
    loaded = load_settings(file=None, env={}, overrides=overrides)
    journal = Journal(tmp_path / "journal.sqlite3", clock=clock)
    client = make_client(transport, clock)
    register = Register(
        loaded=loaded,
        client=client,
        journal=journal,
        clock=clock,
        invoices=invoices(client) if invoices else None,
        inquiry_attempts=2,
        inquiry_delay_s=0.0,
        demo=demo,
        reference_factory=References(),
        reader_factory=reader_factory,
        **register_options,
    )
    app = PosApp(
        register, demo=demo, receipts_dir=tmp_path / "receipts", tick_s=0.05, reconcile_s=reconcile_s
    )
    return Till(app, register, journal, backend, transport, clock)

"""Helpers of the client tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.client import BackendClient, RetryPolicy

KEY_ID = "t_test"
SECRET = b"test-secret-0123456789"


class Sleeps:
    """Records the sleeps a client asks for, without sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(
    transport: httpx.AsyncBaseTransport, sleeps: Sleeps, *, api_version: str = "v1", **kw: Any
) -> BackendClient:
    return BackendClient(
        base_url="http://backend.test",
        key_id=KEY_ID,
        secret=SECRET,
        transport=transport,
        api_version=api_version,
        sleep=sleeps,
        rand=lambda: 0.5,
        policy=kw.pop("policy", RetryPolicy(max_attempts=4)),
        **kw,
    )


class Backend:
    """The emulated backend in-process over a SQLite ledger file, and what its ledger holds."""

    def __init__(self, path: Path, **settings: Any) -> None:
        self.store = Store(path)
        self.app = create_app(store=self.store, settings=ServiceSettings(keys={KEY_ID: SECRET}, **settings))

    def transport(self) -> httpx.AsyncBaseTransport:
        return InProcessTransport(self.app)

    def payments(self) -> list[dict[str, Any]]:
        rows = self.store.fetch_all("SELECT * FROM payments ORDER BY seq")
        return [dict(r) for r in rows]

    def quotes(self) -> list[dict[str, Any]]:
        rows = self.store.fetch_all("SELECT * FROM quotes ORDER BY issued_at")
        return [dict(r) for r in rows]

    def idempotency_keys(self) -> set[str]:
        return {r[0] for r in self.store.fetch_all("SELECT key FROM idempotency")}

"""Helpers of the client tests."""

from __future__ import annotations

from typing import Any

import httpx

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

"""The embedded backend: this emulator in-process, reached through an ASGI transport.

Registered as the ``embedded`` entry point of the ``cryptopos.backends`` group, so the
terminal can use it without importing ``backend_stub`` (the layering rule).
"""

from __future__ import annotations

import httpx

from backend_stub.app import create_app
from backend_stub.state import BackendState


def make_transport(*, key_id: str, secret: bytes) -> httpx.AsyncBaseTransport:
    """An in-process backend that trusts the terminal's configured key."""
    return httpx.ASGITransport(app=create_app(BackendState(keys={key_id: secret})))

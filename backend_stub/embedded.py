"""The embedded backend: this emulator in-process, reached through an ASGI transport.

Registered as the ``embedded`` entry point of the ``cryptopos.backends`` group, so the
terminal can use it without importing ``backend_stub`` (the layering rule).
"""

from __future__ import annotations

import httpx

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.transport import InProcessTransport


def make_transport(*, key_id: str, secret: bytes) -> httpx.AsyncBaseTransport:
    """An in-process backend (temporary SQLite ledger) that trusts the terminal's configured key."""
    return InProcessTransport(create_app(settings=ServiceSettings(keys={key_id: secret})))

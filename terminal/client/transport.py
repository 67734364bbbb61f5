"""The transport for a configured backend: ``embedded`` is the in-process backend, found
through the ``cryptopos.backends`` entry point (the terminal never imports ``backend_stub``)."""

from __future__ import annotations

from importlib.metadata import entry_points

import httpx

from terminal.client.errors import BackendUnavailableError


def backend_transport(url: str, *, key_id: str, secret: bytes) -> httpx.AsyncBaseTransport | None:
    """The transport for a configured backend: ``embedded`` loads the in-process backend
    through the ``cryptopos.backends`` entry point; an http(s) URL needs none."""
    if url != "embedded":
        return None
    found = entry_points(group="cryptopos.backends", name="embedded")
    if not found:
        raise BackendUnavailableError(
            "No embedded backend", "this installation has no embedded backend; set backend.url to a URL"
        )
    factory = next(iter(found)).load()
    transport: httpx.AsyncBaseTransport = factory(key_id=key_id, secret=secret)
    return transport

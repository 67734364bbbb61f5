"""The embedded backend: this emulator in-process, reached through an ASGI transport.

Registered as the ``embedded`` entry point of the ``cryptopos.backends`` group, so the
terminal can use it without importing ``backend_stub`` (the layering rule). It is the same
platform as ``cryptopos backend up``, in-process: the gateway in front of two payments
instances and one rates instance sharing one SQLite ledger, with the autoscaler and the
rollout controller ticking on traffic.

The terminal keeps that ledger next to its journal, so a payment taken by one command can be
refunded, looked up and reconciled by the next one (each command is its own process); with
no ledger path it is a temporary one, gone when the transport closes.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from backend_stub.cluster import MonotonicClock
from backend_stub.deployment import Deployment
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store, StoreError
from backend_stub.topology import Topology, parse_topology
from backend_stub.transport import InProcessTransport

EMBEDDED_TOPOLOGY = {
    "services": {
        "rates": {"stable": "1.0.0", "replicas": 1, "min_replicas": 1, "builds": {"1.0.0": {}}},
        "payments": {"stable": "1.4.0", "replicas": 2, "min_replicas": 1, "builds": {"1.4.0": {}}},
    },
}


def embedded_topology() -> Topology:
    return parse_topology(EMBEDDED_TOPOLOGY, source="embedded topology")


class EmbeddedTransport(InProcessTransport):
    """The gateway of a deployment this transport owns: closing the transport (which
    ``httpx.AsyncClient.aclose`` does) closes the deployment and its ledger (removing a
    temporary one), instead of leaving that to a finalizer's ResourceWarning."""

    def __init__(self, deployment: Deployment, store: Store | None = None) -> None:
        super().__init__(deployment.gateway)
        self.deployment = deployment
        self._store = store  # a kept ledger: the deployment closes only the stores it made
        self._closed = False

    async def aclose(self) -> None:
        if self._closed:  # several clients may share the transport; the first close ends it
            return
        self._closed = True
        try:
            await self.deployment.aclose()
        finally:
            if self._store is not None:
                self._store.close()


class LedgerError(RuntimeError):
    """The embedded backend's ledger file cannot be opened; the message names it and the fix (a
    RuntimeError: what the ``cryptopos.backends`` entry point raises for the terminal to show)."""


def open_ledger(path: Path) -> Store:
    """The kept ledger at ``path``, created owner-only (it holds every payment and refund, as the
    journal beside it does; SQLite gives the -wal and -shm files the same permissions)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise LedgerError(
            f"cannot create the embedded backend's ledger {path}: {exc}; it is kept next to the"
            " journal: point journal.path (or --journal) at a writable place"
        ) from None
    try:
        return Store(path)
    except StoreError as exc:
        raise LedgerError(
            f"cannot open the embedded backend's ledger {path}: {exc}; move the file aside to start"
            " a new one (payments in it can then no longer be refunded by this terminal)"
        ) from None


def make_transport(*, key_id: str, secret: bytes, ledger: Path | None = None) -> httpx.AsyncBaseTransport:
    """An in-process deployment that trusts the terminal's configured key, on the ledger kept at
    ``ledger`` (or a temporary one without it)."""
    store = open_ledger(ledger) if ledger is not None else None
    try:
        deployment = Deployment.in_process(
            embedded_topology(),
            store=store,
            settings=ServiceSettings(keys={key_id: secret}),
            clock=MonotonicClock(),
            auto_tick_s=1.0,
        )
    except BaseException:
        if store is not None:
            store.close()
        raise
    return EmbeddedTransport(deployment, store)

"""The embedded backend: this emulator in-process, reached through an ASGI transport.

Registered as the ``embedded`` entry point of the ``cryptopos.backends`` group, so the
terminal can use it without importing ``backend_stub`` (the layering rule). It is the same
platform as ``cryptopos backend up``, in-process: the gateway in front of two payments
instances and one rates instance sharing a temporary SQLite ledger, with the autoscaler and
the rollout controller ticking on traffic.
"""

from __future__ import annotations

import httpx

from backend_stub.cluster import MonotonicClock
from backend_stub.deployment import Deployment
from backend_stub.settings import ServiceSettings
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
    ``httpx.AsyncClient.aclose`` does) closes the deployment and removes its temporary ledger,
    instead of leaving that to a finalizer's ResourceWarning."""

    def __init__(self, deployment: Deployment) -> None:
        super().__init__(deployment.gateway)
        self.deployment = deployment
        self._closed = False

    async def aclose(self) -> None:
        if self._closed:  # several clients may share the transport; the first close ends it
            return
        self._closed = True
        await self.deployment.aclose()


def make_transport(*, key_id: str, secret: bytes) -> httpx.AsyncBaseTransport:
    """An in-process deployment (temporary SQLite ledger) that trusts the terminal's configured key."""
    deployment = Deployment.in_process(
        embedded_topology(),
        settings=ServiceSettings(keys={key_id: secret}),
        clock=MonotonicClock(),
        auto_tick_s=1.0,
    )
    return EmbeddedTransport(deployment)

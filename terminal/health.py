"""The till's heartbeat: its health as the backend's fleet view shows it (docs/api.md,
"Terminal health").

The TUI sends one every minute from its reconcile loop, and ``cryptopos reconcile`` one at its
end. A heartbeat is best effort: a failure is a debug log line, never a notice to the cashier
and never a change to a command's exit status (the next one replaces it anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

from terminal.client.errors import BackendError

if TYPE_CHECKING:
    from terminal.client import BackendClient
    from terminal.journal import Journal

__all__ = ["HEARTBEAT_S", "build_version", "heartbeat_body", "send_heartbeat"]

log = logging.getLogger("cryptopos.health")

HEARTBEAT_S = 60.0
QUEUED = ("offline_queued", "forwarding")
UNKNOWN = ("unknown_outcome",)


@cache
def build_version() -> str:
    try:
        return metadata.version("cryptopos")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def heartbeat_body(
    journal: Journal, *, readers: Mapping[str, str], last_reconcile_at: float | None
) -> dict[str, Any]:
    """``readers``: each reader's device string and state (its driver's ``ReaderState``,
    ``error`` or ``idle``: the backend takes no other, docs/api.md)."""
    body: dict[str, Any] = {
        "version": build_version(),
        "readers": [{"device": d, "state": s} for d, s in sorted(readers.items())][:16],
        "queue_depth": len(journal.sales(states=QUEUED)),
        "unknown_outcomes": len(journal.sales(states=UNKNOWN)),
    }
    if last_reconcile_at is not None:  # left out, not null, before the first reconcile
        body["last_reconcile_at"] = _iso(last_reconcile_at)
    return body


async def send_heartbeat(client: BackendClient, body: dict[str, Any]) -> bool:
    """Send ``body``; ``False`` (and a debug line) when it did not arrive."""
    try:
        await client.send_heartbeat(body)
    except BackendError as exc:
        log.debug("heartbeat not sent: %s: %s", exc.title, exc.message)
        return False
    return True

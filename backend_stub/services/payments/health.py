"""payments v2 terminal health: a till's heartbeat (docs/api.md, "Terminal health").

Each till says every minute (and after each ``cryptopos reconcile``) which build it runs, how
its readers are, how many sales it still owes the backend an answer for and when it last
reconciled. The ledger keeps the last one per terminal key (``backend_stub.store.health``);
``cryptopos backend status`` lists the fleet from it. The route lives on the payments service
because the gateway routes by a path's first segment to a known service, and a service of its
own for one route would need its own pool of instances.
"""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.problems import PROBLEM_RESPONSES
from backend_stub.services.common import RFC3339_PATTERN, Context, iso, parse_iso
from backend_stub.services.wire import SafeText, no_default
from backend_stub.store import health

# What a till says of a reader: its driver's states (drivers.events.ReaderState), ``error`` (it
# reported a fault) and ``idle`` (configured, not running between sales). A closed list, so a
# fleet view can count the tills whose reader is down; tests/backend/test_backend_heartbeat.py
# holds it equal to what the till sends.
ReaderStateName = Literal[
    "starting", "ready", "reading", "disconnected", "busy", "ended", "stopped", "error", "idle"
]
READER_STATES = frozenset(get_args(ReaderStateName))
MAX_COUNT = 1_000_000
MAX_READERS = 16
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class ReaderReport(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    device: SafeText = Field(min_length=1, max_length=128, description="its device string, e.g. nfc:usb")
    state: ReaderStateName = Field(description="ready, disconnected, error, idle, ...")


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: SafeText = Field(min_length=1, max_length=64, description="the till's build")
    readers: list[ReaderReport] = Field(max_length=MAX_READERS)
    queue_depth: Count = Field(description="offline sales waiting to be forwarded")
    unknown_outcomes: Count = Field(description="sales whose outcome the till does not know yet")
    # Optional, not nullable (as a refund's staff_id): left out before the till's first reconcile
    last_reconcile_at: str = Field(  # type: ignore[assignment]
        None,
        max_length=40,
        pattern=RFC3339_PATTERN,
        description="RFC 3339; left out when the till has not reconciled since it started",
        json_schema_extra=no_default,
    )


class HeartbeatReceived(BaseModel):
    key_id: str
    seen_at: str


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter(responses=PROBLEM_RESPONSES)
    Terminal = Annotated[str, Depends(auth)]

    @r.post("/terminals/heartbeat", status_code=202, response_model=HeartbeatReceived)
    async def heartbeat(body: Heartbeat, terminal: Terminal) -> dict[str, Any]:
        """The calling terminal's health; replaces the last one it sent."""
        last = None if body.last_reconcile_at is None else parse_iso(body.last_reconcile_at)
        beat = health.TerminalHealth(
            key_id=terminal,
            version=body.version,
            readers=tuple(health.ReaderHealth(x.device, x.state) for x in body.readers),
            queue_depth=body.queue_depth,
            unknown_outcomes=body.unknown_outcomes,
            last_reconcile_at=last,
            seen_at=ctx.now(),
        )
        await run_in_threadpool(health.record_heartbeat, ctx.store, beat)
        return {"key_id": terminal, "seen_at": iso(beat.seen_at)}

    return r

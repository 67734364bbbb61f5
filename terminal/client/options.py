"""The client's small value types: per-phase timeouts, its counters, and what a deprecated
API version said about itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True, slots=True)
class DeprecationNotice:
    """What a deprecated API version told us about itself (``Deprecation``/``Sunset``/``Link``)."""

    api: str  # "payments/v1"
    deprecation: str
    sunset: str | None
    link: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Per phase, as httpx understands them."""

    connect_s: float = 2.0
    read_s: float = 10.0
    write_s: float = 5.0
    pool_s: float = 2.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_s, read=self.read_s, write=self.write_s, pool=self.pool_s)


def timeouts_of(given: Timeouts | None, connect: float | None, request: float | None) -> Timeouts:
    """``given``, with the walking skeleton's two timeouts (connect, request) applied over it."""
    t = given or Timeouts()
    if connect is not None or request is not None:
        t = Timeouts(
            connect_s=t.connect_s if connect is None else connect,
            read_s=t.read_s if request is None else request,
            write_s=t.write_s,
            pool_s=t.pool_s,
        )
    return t


@dataclass(slots=True)
class ClientStats:
    attempts: int = 0
    retries: int = 0
    inquiries: int = 0
    replayed: int = 0  # answers the backend replayed for an idempotency key
    by_outcome: dict[str, int] = field(default_factory=dict)

"""Settings of one service instance: what a build of the emulator is configured with.

Every instance of every build gets a ``ServiceSettings``; the state they share (ledger,
idempotency records, nonces, card keys) lives in the :class:`backend_stub.store.Store`.
Settings are plain values plus an injected clock, so a controllable clock drives quotes,
expiries, the authentication window and version sunsets.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSettings:
    """The simulated rate feed: several sources that tick and may go stale or diverge."""

    sources: tuple[str, ...] = ("kraken-sim", "bitstamp-sim", "coinbase-sim")
    tick_s: float = 5.0  # each source publishes a new price every tick_s (phase-shifted per source)
    jitter_bps: int = 15  # a source's price wanders within ±jitter_bps of the reference
    stale_after_s: float = 30.0  # a price older than this is not used
    min_sources: int = 2  # fewer fresh sources than this: refuse to quote
    max_divergence_bps: int = 100  # fresh sources further apart than this: refuse to quote
    # Fault knobs (tests, demos): sources that stopped publishing, and sources off by N bps.
    stopped_at: Mapping[str, float] = field(default_factory=dict)  # source -> when it stopped
    skew_bps: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionPolicy:
    """The lifecycle of one API version of one service (RFC 9745 Deprecation, RFC 8594 Sunset)."""

    deprecated_at: float | None = None
    sunset_at: float | None = None
    successor: str | None = None  # e.g. "v2"


def default_versions() -> dict[str, dict[str, VersionPolicy]]:
    """v1 of both services is deprecated now that v2 exists; it sunsets mid-2027."""
    v1 = VersionPolicy(
        deprecated_at=_epoch("2026-10-01T00:00:00"), sunset_at=_epoch("2027-06-30T00:00:00"), successor="v2"
    )
    return {
        "rates": {"v1": v1, "v2": VersionPolicy()},
        "payments": {"v1": v1, "v2": VersionPolicy()},
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceSettings:
    """Configuration of a service instance (both services read the same settings)."""

    keys: Mapping[str, bytes] = field(default_factory=dict)  # terminal key id -> HMAC secret
    clock: Callable[[], float] = time.time
    seed: int = 7  # the rate feed is a pure function of (seed, source, asset, time)
    spread_bps: int = 100  # taken off the mid rate: the customer pays a little more crypto
    fee_bps: int = 50  # the merchant's processing fee, reported in fiat minor units
    quote_ttl_s: float = 60.0
    feed: FeedSettings = field(default_factory=FeedSettings)
    versions: Mapping[str, Mapping[str, VersionPolicy]] = field(default_factory=default_versions)
    test_mode: bool = True  # test cards and magic amounts (docs/backend.md)
    slow_s: float = 2.0  # how long a "slow" test payment takes
    idempotency_lease_s: float = 30.0  # an in-flight record older than this is taken over
    # Invoice long-poll (GET .../invoices/{id}?wait=&after=): the longest a request is held, kept
    # below the gateway's per-try timeout (config/backend.toml, 5 s); 0 turns the capability off
    # (discovery stops advertising it; `wait` is then ignored, as by a backend without it).
    invoice_wait_max_s: float = 4.0
    invoice_recheck_s: float = 1.0  # how often a held request rereads the ledger (other instances)
    # The Ed25519 quote-signing key, invoice addresses and the Lightning node key derive from this
    # seed, so all instances and builds agree.
    signing_seed: bytes = b"cryptopos-emulator-rates-signing-key"

    def updated(self, overrides: Mapping[str, Any]) -> ServiceSettings:
        """A copy with ``overrides`` (e.g. a build's ``settings:`` from a topology file).

        ``feed`` may be a mapping of :class:`FeedSettings` fields. Unknown names are an error
        that lists the known ones, so a typo in a config file is not silently ignored.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown service settings {unknown}; known: {', '.join(sorted(known))}")
        values = dict(overrides)
        feed = values.get("feed")
        if isinstance(feed, Mapping):
            feed_known = {f.name for f in dataclasses.fields(FeedSettings)}
            bad = sorted(set(feed) - feed_known)
            if bad:
                raise ValueError(f"unknown feed settings {bad}; known: {', '.join(sorted(feed_known))}")
            values["feed"] = dataclasses.replace(self.feed, **feed)
        return dataclasses.replace(self, **values)

"""Settings of one service instance: what a build of the emulator is configured with.

Every instance of every build gets a ``ServiceSettings``; the state they share (ledger,
idempotency records, nonces, card keys) lives in the :class:`backend_stub.store.Store`.
Settings are plain values plus an injected clock, so a controllable clock drives quotes,
expiries, the authentication window and version sunsets.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from terminal.domain.money import ASSETS, AssetKind, Money
from terminal.domain.zreport import DayWindow


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


class PolicyError(ValueError):
    """A ``[refunds]`` setting that is not exactly right (the message says which and why)."""


def _is_zone(name: str) -> bool:
    """An IANA zone name that zoneinfo knows (the system's zones, else the tzdata package)."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _strict_minor(text: object, currency: str, what: str) -> int:
    """``"500.00"`` for EUR, ``"50000"`` for JPY, ``"150.000"`` for KWD: a decimal string with
    exactly the currency's decimals, no sign, exponent, spaces or leading zeros."""
    fiat = ASSETS.get(currency)
    if fiat is None or fiat.kind is not AssetKind.FIAT:
        raise PolicyError(f"{what}: {currency!r} is not a fiat currency this backend knows")
    e = fiat.exponent
    pattern = r"(0|[1-9][0-9]{0,14})" + (rf"\.[0-9]{{{e}}}" if e else "")
    if not isinstance(text, str) or not re.fullmatch(pattern, text):
        example = "0" if e == 0 else "0." + "0" * e
        raise PolicyError(
            f"{what}.{currency}: {text!r} is not a decimal string with exactly {e} decimals "
            f"(like {example!r})"
        )
    return int(text.replace(".", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundPolicy:
    """Which refunds the backend itself allows (config/backend.toml ``[refunds]``, docs/backend.md).

    ``approval_above``: a refund worth more than this (fiat minor units of the payment's currency)
    needs a manager's approval; a currency without an entry needs one for every refund.
    ``daily_limit``: what one terminal may refund per day in that currency; a currency
    without an entry has no limit of its own (a refund is never above its payment anyway).
    ``timezone``: the IANA zone whose calendar day that is, the merchant's business day (a
    Tokyo shop's day starts at 15:00 UTC; a day of a DST change is 23 or 25 hours long).
    """

    window_days: int = 30
    approval_above: Mapping[str, int] = field(default_factory=dict)
    daily_limit: Mapping[str, int] = field(default_factory=dict)
    timezone: str = "UTC"

    def day(self, now: float) -> tuple[float, float]:
        """The business day ``now`` is in, as [start, end) in Unix seconds (the till's Z-report
        day, :class:`terminal.domain.zreport.DayWindow`, in this policy's zone)."""
        window = DayWindow.of(now, ZoneInfo(self.timezone))
        return window.start, window.end

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> RefundPolicy:
        """The ``[refunds]`` table, read strictly; :class:`PolicyError` says what is wrong."""
        unknown = sorted(set(data) - {"window_days", "approval_above", "daily_limit", "timezone"})
        if unknown:
            known = "approval_above, daily_limit, timezone, window_days"
            raise PolicyError(f"unknown refund settings {unknown}; known: {known}")
        zone = data.get("timezone", "UTC")
        if not isinstance(zone, str) or not _is_zone(zone):
            raise PolicyError(f'timezone: {zone!r} is not an IANA time zone (like "Europe/Berlin" or "UTC")')
        days = data.get("window_days", 30)
        if type(days) is not int or not 0 <= days <= 3650:
            raise PolicyError(f"window_days: {days!r} is not a whole number of days from 0 to 3650")
        tables: dict[str, dict[str, int]] = {}
        for what in ("approval_above", "daily_limit"):
            table = data.get(what, {})
            if not isinstance(table, Mapping):
                raise PolicyError(f'{what}: a table of currency = "amount", like {{ EUR = "50.00" }}')
            tables[what] = {str(c): _strict_minor(v, str(c), what) for c, v in table.items()}
        return cls(
            window_days=days,
            approval_above=tables["approval_above"],
            daily_limit=tables["daily_limit"],
            timezone=zone,
        )

    def to_config(self) -> dict[str, Any]:
        """The ``[refunds]`` table this policy reads from (``backend status``, instances' argv)."""

        def major(table: Mapping[str, int]) -> dict[str, str]:
            return {c: Money(v, ASSETS[c]).amount_str() for c, v in sorted(table.items())}

        return {
            "window_days": self.window_days,
            "approval_above": major(self.approval_above),
            "daily_limit": major(self.daily_limit),
            "timezone": self.timezone,
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
    refunds: RefundPolicy = field(default_factory=RefundPolicy)  # default: approval for every refund

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
        refunds = values.get("refunds")
        if isinstance(refunds, Mapping):
            values["refunds"] = RefundPolicy.from_config(refunds)
        return dataclasses.replace(self, **values)

"""The simulated rate feed: several sources, each publishing a timestamped price.

Deterministic: a source's price is a pure function of (seed, source, asset, fiat,
publish tick), so two instances, two builds or two runs with one seed agree. Each source
publishes every ``tick_s`` seconds with its own phase and wanders within ``jitter_bps``
of a reference that drifts slowly.

The quote uses the median of the *fresh* sources. It refuses (never a nonsense amount)
when too few sources are fresh, or when the fresh ones disagree by more than
``max_divergence_bps``.

Errors::

    FeedError (Exception)
     ├── SourcesStaleError       fewer than ``min_sources`` fresh prices
     └── SourcesDivergeError     fresh prices further apart than allowed
"""

from __future__ import annotations

import hashlib
import math
import statistics
from dataclasses import dataclass
from decimal import Decimal

from backend_stub.settings import FeedSettings

__all__ = [
    "BASE_USD",
    "USD_PER_FIAT",
    "FeedError",
    "RateFeed",
    "SourcePrice",
    "SourcesDivergeError",
    "SourcesStaleError",
]

# Reference mid prices in USD and FX rates to USD; the feed moves around them.
BASE_USD = {
    "BTC": Decimal("97250.00"),
    "BTC-LN": Decimal("97250.00"),
    "ETH": Decimal("3412.50"),
    "USDC": Decimal("1.0000"),
    "USDT": Decimal("1.0000"),
    "SOL": Decimal("182.40"),
}
USD_PER_FIAT = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.0850"),
    "GBP": Decimal("1.2700"),
    "CHF": Decimal("1.1300"),
    "JPY": Decimal("0.006700"),
    "KWD": Decimal("3.2500"),
}
STABLECOINS = frozenset({"USDC", "USDT"})
DRIFT_PERIOD_S = 3600.0
DRIFT_BPS = 40  # the market's slow swing; stablecoins barely move


class FeedError(Exception):
    """The feed cannot give a trustworthy price."""

    def __init__(self, message: str, *, sources: list[SourcePrice]) -> None:
        super().__init__(message)
        self.sources = sources


class SourcesStaleError(FeedError):
    pass


class SourcesDivergeError(FeedError):
    pass


@dataclass(frozen=True, slots=True)
class SourcePrice:
    name: str
    rate: Decimal  # fiat major units per one crypto major unit, no spread
    at: float  # when the source published it (epoch seconds)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (not a secret: a simulation)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RateFeed:
    def __init__(self, *, seed: int, settings: FeedSettings) -> None:
        self.seed = seed
        self.settings = settings

    def supports(self, asset: str, fiat: str) -> bool:
        return asset in BASE_USD and fiat in USD_PER_FIAT

    def _reference(self, asset: str, fiat: str, t: float) -> Decimal:
        swing = 0 if asset in STABLECOINS else DRIFT_BPS
        phase = _unit(self.seed, "drift", asset) * 2 * math.pi
        drift_bps = round(swing * math.sin(2 * math.pi * t / DRIFT_PERIOD_S + phase))
        return BASE_USD[asset] / USD_PER_FIAT[fiat] * (1 + Decimal(drift_bps) / 10_000)

    def source_price(self, source: str, asset: str, fiat: str, now: float) -> SourcePrice:
        """The latest price ``source`` published at or before ``now``."""
        s = self.settings
        phase = _unit(self.seed, "phase", source) * s.tick_s
        last = math.floor((now - phase) / s.tick_s) * s.tick_s + phase
        stopped = s.stopped_at.get(source)
        if stopped is not None and last > stopped:
            last = math.floor((stopped - phase) / s.tick_s) * s.tick_s + phase
        tick = round((last - phase) / s.tick_s)
        jitter = round((2 * _unit(self.seed, source, asset, fiat, tick) - 1) * s.jitter_bps)
        bps = jitter + s.skew_bps.get(source, 0)
        rate = self._reference(asset, fiat, last) * (1 + Decimal(bps) / 10_000)
        return SourcePrice(source, rate.quantize(Decimal("0.0001")), last)

    def prices(self, asset: str, fiat: str, now: float) -> list[SourcePrice]:
        return [self.source_price(src, asset, fiat, now) for src in self.settings.sources]

    def mid(self, asset: str, fiat: str, now: float) -> tuple[Decimal, list[SourcePrice]]:
        """The median of the fresh sources, and the sources it came from."""
        s = self.settings
        every = self.prices(asset, fiat, now)
        fresh = [p for p in every if now - p.at <= s.stale_after_s]
        if len(fresh) < s.min_sources:
            ages = ", ".join(f"{p.name} {now - p.at:.0f} s" for p in every)
            raise SourcesStaleError(
                f"{len(fresh)} of {len(every)} sources are fresh (need {s.min_sources}); ages: {ages}",
                sources=every,
            )
        lo, hi = min(p.rate for p in fresh), max(p.rate for p in fresh)
        spread_bps = (hi - lo) / lo * 10_000
        if spread_bps > s.max_divergence_bps:
            raise SourcesDivergeError(
                f"sources disagree by {spread_bps:.0f} bps (limit {s.max_divergence_bps}): "
                + ", ".join(f"{p.name} {p.rate}" for p in fresh),
                sources=fresh,
            )
        return Decimal(statistics.median(p.rate for p in fresh)), fresh

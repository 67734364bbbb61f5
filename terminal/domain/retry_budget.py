"""The retry budget: retries may add at most a share of recent requests (gRPC's retry
throttling, Envoy's retry budget). One implementation for the terminal's client and the
backend's gateway; pure (time enters as ``now``), so tests need no clock.

Memory is bounded by design: the window is cut into ``buckets`` time slots, each holding
two counters, kept in a fixed ring. A million requests cost what ten do. The price is
resolution: a request leaves the window up to one slot (``window_s / buckets``) late, so
the budget is at most one slot's worth more generous than an exact sliding window.
"""

from __future__ import annotations

import math

__all__ = ["RetryBudget"]


class RetryBudget:
    """Retries allowed: ``min_retries + ratio * requests`` over the last ``window_s`` seconds."""

    __slots__ = ("_requests", "_retries", "_slot_ids", "buckets", "min_retries", "ratio", "window_s")

    def __init__(
        self, *, ratio: float = 0.2, min_retries: int = 10, window_s: float = 60.0, buckets: int = 10
    ) -> None:
        if ratio < 0 or min_retries < 0 or window_s <= 0 or buckets < 1:
            raise ValueError("ratio and min_retries must be >= 0, window_s > 0, buckets >= 1")
        self.ratio, self.min_retries, self.window_s, self.buckets = ratio, min_retries, window_s, buckets
        self._slot_ids = [-(2**62)] * buckets  # which time slot each ring entry counts
        self._requests = [0] * buckets
        self._retries = [0] * buckets

    def _slot(self, now: float) -> int:
        return math.floor(now * self.buckets / self.window_s)

    def _entry(self, now: float) -> int:
        slot = self._slot(now)
        i = slot % self.buckets
        if self._slot_ids[i] != slot:
            self._slot_ids[i], self._requests[i], self._retries[i] = slot, 0, 0
        return i

    def _totals(self, now: float) -> tuple[int, int]:
        oldest = self._slot(now) - self.buckets
        requests = retries = 0
        for i, slot in enumerate(self._slot_ids):
            if slot > oldest:
                requests += self._requests[i]
                retries += self._retries[i]
        return requests, retries

    def record_request(self, now: float) -> None:
        self._requests[self._entry(now)] += 1

    def can_retry(self, now: float) -> bool:
        requests, retries = self._totals(now)
        return retries < self.min_retries + self.ratio * requests

    def record_retry(self, now: float) -> None:
        self._retries[self._entry(now)] += 1

    def try_spend(self, now: float) -> bool:
        """Take one retry from the budget if there is one (``can_retry`` + ``record_retry``)."""
        if not self.can_retry(now):
            return False
        self.record_retry(now)
        return True

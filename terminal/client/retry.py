"""Retry decisions as pure functions: no sleeping, no clock reads, no I/O.

The client asks :func:`decide` what to do after each attempt and :func:`delay` how long
to wait; the caller does the waiting. Time enters as arguments (``now``), randomness as
``rand`` in ``[0, 1)``, so tests need neither a clock nor a sleep.

The rules, in one place:

* nothing was sent (connection refused, connect/pool timeout): retry;
* 429: retry after ``Retry-After`` (capped), else backoff;
* 5xx on a read: retry; 5xx or a lost answer on a write: the outcome is unknown,
  so *inquire* (ask the backend by reference) before any retry;
* every other 4xx: never retry, the request itself is wrong;
* at most ``max_attempts`` attempts, and only while the retry budget and the
  circuit breaker allow.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from terminal.domain.retry_budget import RetryBudget

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "Decision",
    "Failure",
    "RetryBudget",  # one implementation with the gateway's, in terminal.domain
    "RetryPolicy",
    "backoff",
    "decide",
    "delay",
    "parse_retry_after",
    "should_retry",
]


class Failure(enum.StrEnum):
    """How an attempt failed before an HTTP status came back."""

    NOT_SENT = "not_sent"  # connection refused, connect or pool timeout: the backend saw nothing
    NO_ANSWER = "no_answer"  # sent (maybe partly), then timeout or reset: the backend may have acted


class Decision(enum.StrEnum):
    RETRY = "retry"  # send the same request again (same idempotency key)
    INQUIRE = "inquire"  # the outcome of a write is unknown: ask the backend before anything else
    GIVE_UP = "give_up"


RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    max_attempts: int = 4  # attempts in total, the first one included
    base_s: float = 0.1  # backoff of the first retry, before jitter
    cap_s: float = 2.0  # no single backoff is longer than this
    max_retry_after_s: float = 10.0  # a Retry-After longer than this is not waited for


def decide(
    *,
    policy: RetryPolicy,
    attempt: int,
    write: bool,
    status: int | None = None,
    failure: Failure | None = None,
) -> Decision:
    """What to do after attempt number ``attempt`` (1-based) ended with ``status`` or ``failure``."""
    if (status is None) == (failure is None):
        raise ValueError("give exactly one of status and failure")
    if status is not None and status < 400:
        return Decision.GIVE_UP  # a success is nothing to retry
    if status is not None and 400 <= status < 500 and status != 429:
        return Decision.GIVE_UP  # the request is wrong; sending it again will not help
    unknown = write and (failure is Failure.NO_ANSWER or (status is not None and status >= 500))
    if unknown:
        # The inquiry is always allowed: it is how a write's fate is learned, not a retry.
        return Decision.INQUIRE
    if attempt >= policy.max_attempts:
        return Decision.GIVE_UP
    return Decision.RETRY


def should_retry(
    *,
    policy: RetryPolicy,
    attempt: int,
    write: bool,
    status: int | None = None,
    failure: Failure | None = None,
) -> bool:
    """True when the same request may simply be sent again now (after :func:`delay`)."""
    return (
        decide(policy=policy, attempt=attempt, write=write, status=status, failure=failure) is Decision.RETRY
    )


def backoff(attempt: int, rand: float, *, base_s: float = 0.1, cap_s: float = 2.0) -> float:
    """Full-jitter exponential backoff before retry number ``attempt`` (1-based).

    ``rand`` in ``[0, 1)`` spreads terminals that failed together, so they do not come
    back together (AWS architecture blog, "Exponential Backoff And Jitter").
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    if not 0.0 <= rand < 1.0:
        raise ValueError("rand must be in [0, 1)")
    ceiling = min(cap_s, base_s * math.pow(2, attempt - 1))
    return rand * ceiling


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def delay(
    *, policy: RetryPolicy, attempt: int, rand: float, retry_after: float | None = None
) -> float | None:
    """How long to wait before retry number ``attempt``; None when the server asks for longer
    than the policy is willing to wait (give up, and let the caller report it)."""
    if retry_after is not None:
        if retry_after > policy.max_retry_after_s:
            return None
        # honour the server's wish, plus a little jitter so a crowd does not come back at once
        return retry_after + rand * policy.base_s
    return backoff(attempt, rand, base_s=policy.base_s, cap_s=policy.cap_s)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True, kw_only=True)
class CircuitBreaker:
    """Opens after ``failure_threshold`` failures in a row; after ``reset_s`` it lets one probe
    through (half-open); the probe's success closes it, its failure opens it again."""

    failure_threshold: int = 5
    reset_s: float = 10.0
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    _probing: bool = False

    def allow(self, now: float) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if now - self.opened_at < self.reset_s:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False  # one probe at a time while half-open
        self._probing = True
        return True

    def record_success(self, now: float) -> None:
        self.state, self.failures, self._probing = BreakerState.CLOSED, 0, False

    def record_failure(self, now: float) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self._probing = BreakerState.OPEN, now, False

    def retry_in(self, now: float) -> float:
        return max(0.0, self.reset_s - (now - self.opened_at)) if self.state is BreakerState.OPEN else 0.0

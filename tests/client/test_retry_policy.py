"""Retry decisions are pure: every case here runs without a clock or a sleep."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.client.retry import (
    BreakerState,
    CircuitBreaker,
    Decision,
    Failure,
    RetryBudget,
    RetryPolicy,
    backoff,
    decide,
    delay,
    parse_retry_after,
    should_retry,
)

P = RetryPolicy(max_attempts=4, base_s=0.1, cap_s=2.0, max_retry_after_s=10.0)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
@pytest.mark.parametrize("write", [True, False])
def test_never_retries_a_4xx(status: int, write: bool) -> None:
    assert decide(policy=P, attempt=1, write=write, status=status) is Decision.GIVE_UP
    assert not should_retry(policy=P, attempt=1, write=write, status=status)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_reads_retry_429_and_5xx_until_attempts_run_out(status: int) -> None:
    assert decide(policy=P, attempt=1, write=False, status=status) is Decision.RETRY
    assert decide(policy=P, attempt=3, write=False, status=status) is Decision.RETRY
    assert decide(policy=P, attempt=4, write=False, status=status) is Decision.GIVE_UP


def test_a_write_that_got_no_answer_or_a_5xx_is_inquired_about_never_blindly_resent() -> None:
    assert decide(policy=P, attempt=1, write=True, failure=Failure.NO_ANSWER) is Decision.INQUIRE
    assert decide(policy=P, attempt=1, write=True, status=500) is Decision.INQUIRE
    assert decide(policy=P, attempt=1, write=True, status=503) is Decision.INQUIRE
    # even on the last attempt: learning the fate is not a retry
    assert decide(policy=P, attempt=4, write=True, status=502) is Decision.INQUIRE
    assert not should_retry(policy=P, attempt=1, write=True, status=500)


def test_a_write_that_was_not_sent_or_got_429_is_simply_retried() -> None:
    assert decide(policy=P, attempt=1, write=True, failure=Failure.NOT_SENT) is Decision.RETRY
    assert decide(policy=P, attempt=1, write=True, status=429) is Decision.RETRY
    assert decide(policy=P, attempt=4, write=True, failure=Failure.NOT_SENT) is Decision.GIVE_UP


def test_reads_retry_a_lost_answer() -> None:
    assert decide(policy=P, attempt=1, write=False, failure=Failure.NO_ANSWER) is Decision.RETRY


def test_success_is_not_retried_and_arguments_are_checked() -> None:
    assert decide(policy=P, attempt=1, write=True, status=201) is Decision.GIVE_UP
    with pytest.raises(ValueError, match="exactly one"):
        decide(policy=P, attempt=1, write=True)
    with pytest.raises(ValueError, match="exactly one"):
        decide(policy=P, attempt=1, write=True, status=500, failure=Failure.NOT_SENT)


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    assert backoff(1, 0.0) == 0.0
    assert backoff(1, 0.5) == pytest.approx(0.05)
    assert backoff(2, 0.5) == pytest.approx(0.1)
    assert backoff(3, 0.999) == pytest.approx(0.3996)
    assert backoff(20, 0.999, base_s=0.1, cap_s=2.0) == pytest.approx(1.998)
    ceilings = [backoff(n, 0.999999) for n in range(1, 8)]
    assert ceilings == sorted(ceilings)
    with pytest.raises(ValueError):
        backoff(0, 0.5)
    with pytest.raises(ValueError):
        backoff(1, 1.0)


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("3", now=0) == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 5) == pytest.approx(5.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 + 5) == 0.0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None
    assert parse_retry_after("-1", now=0) is None


def test_delay_honours_retry_after_and_refuses_one_too_long() -> None:
    assert delay(policy=P, attempt=1, rand=0.0, retry_after=3.0) == 3.0
    assert 3.0 <= delay(policy=P, attempt=1, rand=0.9, retry_after=3.0) <= 3.0 + P.base_s  # type: ignore[operator]
    assert delay(policy=P, attempt=1, rand=0.5, retry_after=60.0) is None
    assert delay(policy=P, attempt=2, rand=0.5) == backoff(2, 0.5)


def test_retry_budget_limits_retries_to_a_share_of_requests_in_the_window() -> None:
    budget = RetryBudget(ratio=0.5, min_retries=1, window_s=10.0)
    for _ in range(4):
        budget.record_request(0.0)
    allowed = 0
    while budget.can_retry(1.0):
        budget.record_retry(1.0)
        allowed += 1
    assert allowed == 3  # 1 + 0.5 * 4
    assert budget.can_retry(20.0)  # the window moved on


def test_breaker_opens_after_repeated_failures_then_half_opens_with_one_probe() -> None:
    br = CircuitBreaker(failure_threshold=3, reset_s=10.0)
    for t in range(3):
        assert br.allow(float(t))
        br.record_failure(float(t))
    assert br.state is BreakerState.OPEN
    assert not br.allow(5.0)
    assert br.retry_in(5.0) == pytest.approx(7.0)
    assert br.allow(12.5)  # the probe
    assert br.state is BreakerState.HALF_OPEN
    assert not br.allow(12.6)  # only one probe at a time
    br.record_failure(12.7)
    assert br.state is BreakerState.OPEN
    assert not br.allow(13.0)
    assert br.allow(23.0)
    br.record_success(23.1)
    assert br.state is BreakerState.CLOSED
    assert br.allow(23.2)


def test_breaker_resets_its_count_on_success() -> None:
    br = CircuitBreaker(failure_threshold=3, reset_s=10.0)
    br.record_failure(0)
    br.record_failure(0)
    br.record_success(0)
    br.record_failure(0)
    br.record_failure(0)
    assert br.state is BreakerState.CLOSED


@given(
    attempt=st.integers(1, 50),
    rand=st.floats(0, 1, exclude_max=True),
    base=st.floats(0.001, 5),
    cap=st.floats(0.001, 60),
)
def test_backoff_stays_within_its_ceiling(attempt: int, rand: float, base: float, cap: float) -> None:
    wait = backoff(attempt, rand, base_s=base, cap_s=cap)
    assert 0 <= wait <= min(cap, base * 2 ** (attempt - 1)) + 1e-9


@given(
    attempt=st.integers(1, 10),
    write=st.booleans(),
    status=st.one_of(st.none(), st.integers(200, 599)),
    failure=st.sampled_from(list(Failure)),
)
def test_no_decision_ever_resends_a_write_blindly(
    attempt: int, write: bool, status: int | None, failure: Failure
) -> None:
    kw = {"status": status} if status is not None else {"failure": failure}
    d = decide(policy=P, attempt=attempt, write=write, **kw)  # type: ignore[arg-type]
    if status is not None and 400 <= status < 500 and status != 429:
        assert d is Decision.GIVE_UP
    if write and (
        (failure is Failure.NO_ANSWER and status is None) or (status is not None and status >= 500)
    ):
        assert d is Decision.INQUIRE  # a write that may have landed is asked about, never resent
    if attempt >= P.max_attempts:
        assert d is not Decision.RETRY

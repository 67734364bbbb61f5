"""The one RetryBudget (terminal.domain.retry_budget), shared by the client and the gateway."""

from __future__ import annotations

import gc
import os

import pytest

from terminal.domain.retry_budget import RetryBudget


def test_retries_are_a_share_of_the_requests_in_the_window_plus_a_floor() -> None:
    b = RetryBudget(ratio=0.2, min_retries=2, window_s=10.0)
    for _ in range(50):
        b.record_request(100.0)
    spent = 0
    while b.try_spend(100.5):
        spent += 1
    assert spent == 12  # 2 + 0.2 * 50
    assert not b.can_retry(100.5)


def test_requests_and_retries_leave_the_window() -> None:
    b = RetryBudget(ratio=0.0, min_retries=1, window_s=10.0, buckets=10)
    assert b.try_spend(0.0)
    assert not b.try_spend(5.0)  # the retry at 0.0 still counts
    assert not b.try_spend(9.9)
    assert b.try_spend(11.0)  # one slot (1 s) later than an exact window, never earlier


def test_old_requests_stop_paying_for_retries() -> None:
    b = RetryBudget(ratio=1.0, min_retries=0, window_s=10.0)
    for t in range(10):
        b.record_request(float(t))
    assert b.can_retry(9.5)
    assert not b.can_retry(30.0)  # the requests are older than the window: nothing to spend


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="window_s"):
        RetryBudget(window_s=0)
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(ratio=-0.1)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the RSS from /proc (Linux)")
def test_a_million_requests_keep_memory_bounded() -> None:
    b = RetryBudget(ratio=0.2, min_retries=10, window_s=10.0)
    for i in range(1_000):
        b.record_request(i * 0.001)
    gc.collect()
    before = rss_bytes()
    # a million requests over 1,000 s (1,000 per second), a retry tried every 100th; one entry
    # per request, as the gateway's old copy kept, would be 30 MB and more
    for i in range(1_000_000):
        now = 1.0 + i * 0.001
        b.record_request(now)
        if i % 100 == 0:
            b.try_spend(now)
    gc.collect()
    assert rss_bytes() - before < 2 * 1024 * 1024
    assert len(b._requests) == len(b._retries) == len(b._slot_ids) == b.buckets
    requests, retries = b._totals(1_001.0)
    assert 9_000 <= requests <= 10_000  # the last 10 s at 1,000/s, to a slot's resolution
    assert 0 < retries <= 10 + 0.2 * requests


def test_the_client_and_the_gateway_use_this_one() -> None:
    from backend_stub.cluster import ManualClock
    from backend_stub.deployment import Deployment
    from terminal.client import RetryBudget as ClientBudget
    from tests.platform.helpers import echo_factory, topology

    d = Deployment.in_process(topology(), clock=ManualClock(), app_factory=echo_factory())
    assert ClientBudget is RetryBudget
    assert type(d.gateway.budget) is RetryBudget

"""Building a client from the settings: one place, so every command retries and times out alike."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from terminal.client import BackendClient, DeprecationNotice, Timeouts, backend_transport, embedded_ledger
from terminal.client.retry import CircuitBreaker, RetryBudget, RetryPolicy
from terminal.config import Settings


def client_from_settings(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_notice: Callable[[DeprecationNotice], None] | None = None,
) -> BackendClient:
    secret = settings.signing.secret.get_secret_value().encode()
    if transport is None:
        transport = backend_transport(
            settings.backend.url,
            key_id=settings.signing.key_id,
            secret=secret,
            ledger=embedded_ledger(settings.journal.path),
        )
    t, r = settings.timeouts, settings.retry
    return BackendClient(
        base_url=settings.backend.url,
        key_id=settings.signing.key_id,
        secret=secret,
        transport=transport,
        api_version=settings.backend.api_version,
        timeouts=Timeouts(connect_s=t.connect_s, read_s=t.request_s, write_s=t.write_s, pool_s=t.connect_s),
        policy=RetryPolicy(
            max_attempts=r.max_attempts, base_s=r.base_s, cap_s=r.cap_s, max_retry_after_s=r.max_retry_after_s
        ),
        budget=RetryBudget(ratio=r.budget_ratio),
        breaker=CircuitBreaker(failure_threshold=r.breaker_failures, reset_s=r.breaker_reset_s),
        on_notice=on_notice,
    )

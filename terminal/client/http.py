"""Signed HTTP to the backend: one attempt at a time, each HMAC-signed with a fresh nonce and
fed to the circuit breaker and the retry budget; reads retried by the rules of
:mod:`terminal.client.retry`. Sleeping, the clock and randomness are injected."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self

import httpx

from terminal.client.errors import (
    APPROVAL_PROBLEMS,
    ApprovalRefusedError,
    BackendUnavailableError,
    BadAnswerError,
    CircuitOpenError,
    ProblemError,
    VersionSunsetError,
)
from terminal.client.options import ClientStats, DeprecationNotice, Timeouts
from terminal.client.retry import (
    CircuitBreaker,
    Decision,
    Failure,
    RetryBudget,
    RetryPolicy,
    decide,
    delay,
    parse_retry_after,
)
from terminal.domain import signing
from terminal.logs import REQUEST_ID_HEADER, new_request_id

log = logging.getLogger("cryptopos.client")


def failure_of(exc: httpx.TransportError) -> Failure:
    # Only these guarantee that no byte of the request reached the backend.
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure.NOT_SENT
    return Failure.NO_ANSWER


def problem_of(resp: httpx.Response) -> dict[str, Any]:
    """The response's RFC 9457 problem details (or a stand-in that says there were none)."""
    try:
        data = resp.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can decode
        data = None
    if isinstance(data, dict):
        return data
    return {"title": f"HTTP {resp.status_code}", "detail": f"HTTP {resp.status_code} without problem details"}


def slug_of(problem: dict[str, Any]) -> str:
    """The last part of the problem's ``type`` (``idempotency-in-flight``...)."""
    return str(problem.get("type", "")).rsplit("/", 1)[-1]


class SignedHttp:
    """The plumbing under :class:`~terminal.client.client.BackendClient`."""

    def __init__(
        self,
        *,
        base_url: str,
        key_id: str,
        secret: bytes,
        transport: httpx.AsyncBaseTransport | None,
        timeouts: Timeouts,
        policy: RetryPolicy | None,
        budget: RetryBudget | None,
        breaker: CircuitBreaker | None,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rand: Callable[[], float],
        nonce: Callable[[], str],
        on_notice: Callable[[DeprecationNotice], None] | None,
    ) -> None:
        self._key_id = key_id
        self._secret = secret
        self.policy = policy or RetryPolicy()
        self.budget = budget or RetryBudget()
        self.breaker = breaker or CircuitBreaker()
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._rand = rand
        self._nonce = nonce
        self._on_notice = on_notice
        self.deprecations: dict[str, DeprecationNotice] = {}
        self.stats = ClientStats()
        self.timeouts = timeouts
        base = "http://embedded.invalid" if base_url == "embedded" else base_url
        self._http = httpx.AsyncClient(
            base_url=base,
            transport=transport,
            timeout=self.timeouts.httpx(),
            # shorter than uvicorn's 5 s keep-alive, so we never reuse a socket the server closed
            limits=httpx.Limits(keepalive_expiry=4.0),
            headers={"User-Agent": "cryptopos-terminal/0.1"},
        )

    def send_window_s(self) -> float:
        """The longest a write of this client can keep being sent: every attempt taking its full
        pool, connect, write and read timeouts, and the longest wait between two attempts (a
        backoff at its cap, or the longest Retry-After waited for). Until then a request of a
        still-running sender may yet reach the backend."""
        t, p = self.timeouts, self.policy
        per_attempt = t.pool_s + t.connect_s + t.write_s + t.read_s
        wait = max(p.cap_s, p.max_retry_after_s + p.base_s)
        return p.max_attempts * per_attempt + (p.max_attempts - 1) * wait

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _attempt(
        self, method: str, path: str, content: bytes, headers: dict[str, str]
    ) -> httpx.Response | Failure:
        """One signed attempt: a response, or how it failed. Feeds the circuit breaker."""
        now = self._monotonic()
        if not self.breaker.allow(now):
            raise CircuitOpenError(
                "Backend unreachable",
                f"too many failures in a row; trying again in {self.breaker.retry_in(now):.0f} s",
            )
        signed = signing.signature_headers(
            key_id=self._key_id,
            secret=self._secret,
            method=method,
            path=path,
            timestamp=int(self._clock()),
            nonce=self._nonce(),
            body=content,
        )
        self.stats.attempts += 1
        self.budget.record_request(now)
        # one id per HTTP request: the gateway and the instance log it too (terminal.logs)
        request_id = new_request_id()
        where = {"request_id": request_id, "method": method, "path": path.split("?", maxsplit=1)[0]}
        started = time.perf_counter()
        try:
            # a GET goes without a body (not an empty one with Content-Length: 0)
            resp = await self._http.request(
                method,
                path,
                content=content or None,
                headers={**signed, **headers, REQUEST_ID_HEADER: request_id},
            )
        except httpx.TransportError as exc:
            self.breaker.record_failure(self._monotonic())
            log.info("backend request failed", extra={**where, "error": type(exc).__name__})
            return failure_of(exc)
        log.info(
            "backend request",
            extra={
                **where,
                "status": resp.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "instance": resp.headers.get("X-Cp-Instance"),
            },
        )
        if resp.status_code >= 500:
            self.breaker.record_failure(self._monotonic())
        else:
            self.breaker.record_success(self._monotonic())
        self._note_deprecation(path, resp)
        if resp.headers.get("Idempotent-Replayed") == "true":
            self.stats.replayed += 1
        return resp

    def _note_deprecation(self, path: str, resp: httpx.Response) -> None:
        dep = resp.headers.get("Deprecation")
        if dep is None:
            return
        api = "/".join(path.lstrip("/").split("/")[:2])
        if api in self.deprecations:
            return
        notice = DeprecationNotice(api, dep, resp.headers.get("Sunset"), resp.headers.get("Link"))
        self.deprecations[api] = notice
        log.warning(
            "backend API %s is deprecated (sunset %s); successor: %s", api, notice.sunset, notice.link
        )
        if self._on_notice is not None:
            self._on_notice(notice)

    async def _wait(self, attempt: int, resp: httpx.Response | None) -> bool:
        """Sleep before retry ``attempt``; False when the budget or Retry-After says stop."""
        now = self._monotonic()
        if not self.budget.can_retry(now):
            log.warning("retry budget exhausted; not retrying")
            return False
        after = parse_retry_after(resp.headers.get("Retry-After"), now=self._clock()) if resp else None
        wait = delay(policy=self.policy, attempt=attempt, rand=self._rand(), retry_after=after)
        if wait is None:
            return False
        self.budget.record_retry(now)
        self.stats.retries += 1
        await self._sleep(wait)
        return True

    async def _read(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A request without side effects worth guarding (reads, quotes): retried freely."""
        content = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(method, path, content, headers)
            if isinstance(outcome, httpx.Response):
                if outcome.status_code < 400:
                    return self._json(outcome)
                decision = decide(
                    policy=self.policy, attempt=attempt, write=False, status=outcome.status_code
                )
                if slug_of(problem_of(outcome)).startswith("rate-sources-"):
                    # a refusal to quote is an answer for the cashier now, not a hiccup to wait out
                    decision = Decision.GIVE_UP
                if decision is not Decision.RETRY or not await self._wait(attempt, outcome):
                    raise self._error(outcome)
            else:
                decision = decide(policy=self.policy, attempt=attempt, write=False, failure=outcome)
                if decision is not Decision.RETRY or not await self._wait(attempt, None):
                    what = "cannot connect" if outcome is Failure.NOT_SENT else "no answer"
                    raise BackendUnavailableError("Backend unreachable", f"{what} after {attempt} attempt(s)")

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any]:
        try:
            data = resp.json()
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json can decode
            data = None
        if not isinstance(data, dict):
            raise BadAnswerError("Backend sent an unreadable answer", f"HTTP {resp.status_code}, not JSON")
        return data

    def _error(self, resp: httpx.Response) -> ProblemError:
        problem = problem_of(resp)
        if resp.status_code == 410 and slug_of(problem) == "version-sunset":
            return VersionSunsetError(resp.status_code, problem)
        if resp.status_code == 403 and slug_of(problem) in APPROVAL_PROBLEMS:
            wait = parse_retry_after(resp.headers.get("Retry-After"), now=self._clock())
            return ApprovalRefusedError(resp.status_code, problem, retry_after_s=wait)
        return ProblemError(resp.status_code, problem)

    async def _send_once(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A request that must not be repeated once it may have arrived (a PIN check counts
        every wrong PIN): sent again only while nothing reached the backend."""
        content = json.dumps(body, separators=(",", ":")).encode()
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(method, path, content, {"Content-Type": "application/json"})
            if isinstance(outcome, httpx.Response):
                if outcome.status_code < 400:
                    return self._json(outcome)
                raise self._error(outcome)
            retry = outcome is Failure.NOT_SENT and attempt < self.policy.max_attempts
            if retry and await self._wait(attempt, None):
                continue
            what = "cannot connect" if outcome is Failure.NOT_SENT else "no answer (ask again)"
            raise BackendUnavailableError("Backend unreachable", f"{what} after {attempt} attempt(s)")

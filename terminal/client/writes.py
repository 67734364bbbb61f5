"""The one exactly-once write loop (:meth:`ExactlyOnceWriter._write_once`).

Every write carries an ``Idempotency-Key`` its caller derived from the journal: the same on
every attempt, so the backend carries it out at most once. After each attempt
:func:`~terminal.client.retry.decide` says retry, inquire or give up, and an outcome that may
have reached the backend ("maybe sent": no answer, a 5xx, a 409 ``idempotency-in-flight``) is
never guessed. How the loop learns it is the caller's ``inquire``:

* **by reference** (payments): ``inquire()`` asks the backend for what it holds under the sale's
  reference; only when it holds nothing is the same request sent again. A refusal of that resend
  is then an answer (the backend did not have the payment), except a 429 (busy: still unknown).
  A 409 ``duplicate-reference`` is answered by the inquiry too.
* **by resending** (refunds, invoices: ``inquire=None``): the backend answers a resend from its
  idempotency store, so the resend is the inquiry; a refusal of it says nothing about the earlier
  attempt, so after a maybe-sent attempt any refusal is an unknown outcome.

A 409 ``idempotency-in-flight`` means the key's first request is being carried out right now
(an earlier attempt of ours the gateway gave up waiting for, or `reconcile` resending it). What
the loop does then is the caller's explicit choice, :class:`InFlight`.

Retries run out the same way for both: when an attempt may have been carried out, the outcome is
unknown (:class:`~terminal.client.errors.OutcomeUnknownError`, left to `reconcile`); when none
can have been, the refusal or :class:`~terminal.client.errors.BackendUnavailableError` stands.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from terminal.client.errors import (
    BackendError,
    BackendUnavailableError,
    BadAnswerError,
    CircuitOpenError,
    OutcomeUnknownError,
)
from terminal.client.http import SignedHttp, problem_of, slug_of
from terminal.client.retry import Decision, Failure, decide

R = TypeVar("R")


class InFlight(enum.StrEnum):
    """What a write does with a 409 ``idempotency-in-flight``: its key's first request is being
    carried out right now, so the outcome is unknown until that request ends."""

    INQUIRE = "inquire"
    """Ask by reference at once (payments): a booked payment is found without waiting for the
    other request to end, and the journal learns that the outcome was unknown (``on_unknown``)."""

    WAIT = "wait"
    """Back off and send it again (refunds, invoices: there is nothing to ask by), until the
    idempotency store answers with the first request's result; attempts running out first leave
    the outcome unknown."""


class ExactlyOnceWriter(SignedHttp):
    async def _write_once(
        self,
        path: str,
        body: dict[str, Any],
        idempotency_key: str,
        *,
        parse: Callable[[dict[str, Any]], R],
        in_flight: InFlight,
        inquire: Callable[[], Awaitable[R | None]] | None,
        lost: str,
        on_unknown: Callable[[str], None] | None = None,
    ) -> R:
        """POST ``body`` to ``path`` exactly once and ``parse`` the answer, or learn it by
        ``inquire`` (None: by resending). ``lost`` ends the message of an unknown outcome.
        ``on_unknown(why)`` is called once, before the first inquiry by reference."""
        if in_flight is InFlight.INQUIRE and inquire is None:
            raise ValueError("InFlight.INQUIRE needs an inquiry")

        def unknown(why: str) -> OutcomeUnknownError:
            return OutcomeUnknownError("No answer from the backend", f"{why}; {lost}")

        content = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        maybe_sent = False  # an earlier attempt may have reached the backend
        told = False  # on_unknown was called
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await self._attempt("POST", path, content, headers)
            except CircuitOpenError as exc:
                if maybe_sent:
                    raise unknown(exc.message) from exc
                raise
            resp = outcome if isinstance(outcome, httpx.Response) else None
            if resp is not None:
                if resp.status_code < 400:
                    return parse(self._json(resp))
                slug = slug_of(problem_of(resp))
                if resp.status_code == 409 and slug == "duplicate-reference" and inquire is not None:
                    # the backend already has a write for this reference: that is the result
                    found = await inquire()
                    if found is None:
                        raise BadAnswerError("Backend contradicts itself", "duplicate reference not found")
                    return found
                if resp.status_code == 409 and slug == "idempotency-in-flight":
                    decision = Decision.INQUIRE if in_flight is InFlight.INQUIRE else Decision.RETRY
                    maybe_sent = True
                else:
                    decision = decide(
                        policy=self.policy, attempt=attempt, write=True, status=resp.status_code
                    )
                if decision is Decision.GIVE_UP:
                    if maybe_sent and (inquire is None or resp.status_code == 429):
                        raise unknown("it is busy" if resp.status_code == 429 else "the resend was refused")
                    raise self._error(resp)
            else:
                assert isinstance(outcome, Failure)
                decision = decide(policy=self.policy, attempt=attempt, write=True, failure=outcome)
                if decision is Decision.GIVE_UP:
                    if maybe_sent:
                        raise unknown("it may have it")
                    raise BackendUnavailableError(
                        "Backend unreachable", f"cannot connect after {attempt} attempt(s)"
                    )
            if decision is Decision.INQUIRE:
                if not told and on_unknown is not None:
                    why = f"HTTP {resp.status_code}" if resp is not None else "no answer"
                    on_unknown(f"{why}; asking the backend by reference")
                    told = True
                maybe_sent = True
                if inquire is not None:
                    self.stats.inquiries += 1
                    try:
                        found = await inquire()
                    except BackendError as exc:
                        raise unknown(f"asking about it failed: {exc.message}") from exc
                    if found is not None:
                        return found
                    # the backend has not got it: the same request with the same key is safe
            if maybe_sent and attempt >= self.policy.max_attempts:
                raise unknown("it is not there yet" if inquire is not None else "retries exhausted")
            if not await self._wait(attempt, resp):
                if maybe_sent:
                    raise unknown("retries exhausted")
                if resp is not None:
                    raise self._error(resp)
                raise BackendUnavailableError("Backend unreachable", "retries exhausted")

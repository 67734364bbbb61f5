"""The client's exception tree (drawn in :mod:`terminal.client`): every error a cashier can
see has a short title and a specific message."""

from __future__ import annotations

from typing import Any


class BackendError(Exception):
    def __init__(self, title: str, message: str) -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message


class BackendUnavailableError(BackendError):
    """Nothing reached the backend (or the circuit breaker kept us from trying)."""


class CircuitOpenError(BackendUnavailableError):
    pass


class OutcomeUnknownError(BackendError):
    """A write was sent and its fate could not be learned, even by asking."""


class QuoteExpiredError(BackendError):
    """The quote expired before the payment was sent; nothing was sent."""


class BadAnswerError(BackendError):
    """The backend answered something the contract does not allow."""


class UnsupportedError(BackendError):
    pass


class ProblemError(BackendError):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", "")).rsplit("/", 1)[-1]
        title = str(problem.get("title") or f"HTTP {status}")
        super().__init__(title, str(problem.get("detail") or title))


class QuoteRefusedError(ProblemError):
    pass


class VersionSunsetError(ProblemError):
    pass


# The problem types with which the backend refuses a manager's PIN or asks for one.
APPROVAL_PROBLEMS = ("approval-required", "approval-invalid", "approver-locked")


class ApprovalRefusedError(ProblemError):
    """The backend wants a manager's approval (``approval-required``), refused the PIN given
    (``approval-invalid``: wrong PIN, unknown, disabled or not a manager, on purpose one type), or
    has locked that manager out (``approver-locked``: ``retry_after_s``, ``locked_until``).
    Nothing was done and nothing was stored under the idempotency key: the same request may be
    sent again with a (corrected) approval."""

    def __init__(self, status: int, problem: dict[str, Any], *, retry_after_s: float | None = None) -> None:
        super().__init__(status, problem)
        self.retry_after_s = retry_after_s
        until = problem.get("locked_until")
        self.locked_until = until if isinstance(until, str) else None

"""The terminal's backend client (httpx): signed requests, one model for every API version.

Errors::

    BackendError (Exception)            title + message a cashier can read
     ├── BackendUnavailableError        could not reach the backend (nothing was sent)
     │    └── CircuitOpenError          too many failures in a row; not even trying for a while
     ├── OutcomeUnknownError            a write was sent and its fate could not be learned
     ├── QuoteExpiredError              the quote ran out before the payment was sent
     ├── BadAnswerError                 the backend broke the contract (shape, a nonsense quote)
     ├── UnsupportedError               the negotiated API version lacks the operation
     └── ProblemError                   the backend answered with RFC 9457 problem details
          ├── QuoteRefusedError         the rates service refused to quote (or quoted nonsense)
          ├── VersionSunsetError        the API version is past its sunset (410)
          └── ApprovalRefusedError      a manager's approval is needed, wrong, or locked out (403)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terminal.client.adapters import (
        INVOICE_KINDS,
        Approval,
        InvoiceResult,
        PaymentResult,
        RefundResult,
        StaffMember,
    )
    from terminal.client.client import BackendClient
    from terminal.client.errors import (
        APPROVAL_PROBLEMS,
        ApprovalRefusedError,
        BackendError,
        BackendUnavailableError,
        BadAnswerError,
        CircuitOpenError,
        OutcomeUnknownError,
        ProblemError,
        QuoteExpiredError,
        QuoteRefusedError,
        UnsupportedError,
        VersionSunsetError,
    )
    from terminal.client.invoice_wait import InvoiceWaiter
    from terminal.client.options import ClientStats, DeprecationNotice, Timeouts
    from terminal.client.retry import CircuitBreaker, RetryBudget, RetryPolicy
    from terminal.client.transport import EmbeddedLedgerError, backend_transport, embedded_ledger
    from terminal.client.writes import InFlight

# Each name is imported from its module on first use: the errors and results (no httpx) serve the
# sale core and the till's screens before the client itself (httpx) is built, after first paint.
_EXPORTS = {
    "INVOICE_KINDS": "adapters",
    "Approval": "adapters",
    "StaffMember": "adapters",
    "InvoiceResult": "adapters",
    "PaymentResult": "adapters",
    "RefundResult": "adapters",
    "BackendClient": "client",
    "APPROVAL_PROBLEMS": "errors",
    "ApprovalRefusedError": "errors",
    "BackendError": "errors",
    "BackendUnavailableError": "errors",
    "BadAnswerError": "errors",
    "CircuitOpenError": "errors",
    "OutcomeUnknownError": "errors",
    "ProblemError": "errors",
    "QuoteExpiredError": "errors",
    "QuoteRefusedError": "errors",
    "UnsupportedError": "errors",
    "VersionSunsetError": "errors",
    "InvoiceWaiter": "invoice_wait",
    "ClientStats": "options",
    "DeprecationNotice": "options",
    "Timeouts": "options",
    "CircuitBreaker": "retry",
    "RetryBudget": "retry",
    "RetryPolicy": "retry",
    "EmbeddedLedgerError": "transport",
    "backend_transport": "transport",
    "embedded_ledger": "transport",
    "InFlight": "writes",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup does not come here
    return value


__all__ = [
    "APPROVAL_PROBLEMS",
    "INVOICE_KINDS",
    "Approval",
    "ApprovalRefusedError",
    "BackendClient",
    "BackendError",
    "BackendUnavailableError",
    "BadAnswerError",
    "CircuitBreaker",
    "CircuitOpenError",
    "ClientStats",
    "DeprecationNotice",
    "EmbeddedLedgerError",
    "InFlight",
    "InvoiceResult",
    "InvoiceWaiter",
    "OutcomeUnknownError",
    "PaymentResult",
    "ProblemError",
    "QuoteExpiredError",
    "QuoteRefusedError",
    "RefundResult",
    "RetryBudget",
    "RetryPolicy",
    "StaffMember",
    "Timeouts",
    "UnsupportedError",
    "VersionSunsetError",
    "backend_transport",
    "embedded_ledger",
]

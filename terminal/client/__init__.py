"""The terminal's backend client (httpx): signed requests, one model for every API version.

Errors::

    BackendError (Exception)            title + message a cashier can read
     ├── BackendUnavailableError        could not reach the backend (nothing was sent)
     ├── OutcomeUnknownError            a write was sent but no answer came back
     └── ProblemError                   the backend answered with RFC 9457 problem details
          └── QuoteRefusedError         the rates service refused to quote
"""

from terminal.client.client import (
    BackendClient,
    BackendError,
    BackendUnavailableError,
    OutcomeUnknownError,
    PaymentResult,
    ProblemError,
    QuoteRefusedError,
    backend_transport,
)

__all__ = [
    "BackendClient",
    "BackendError",
    "BackendUnavailableError",
    "OutcomeUnknownError",
    "PaymentResult",
    "ProblemError",
    "QuoteRefusedError",
    "backend_transport",
]

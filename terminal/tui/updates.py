"""What the register tells its host, as plain immutable values: the sale's view, the
backend link, reader states, notices, receipts, reports. No Textual, no I/O.

Errors::

    RegisterError (Exception)        title, message and a next step a cashier can act on
     ├── NotSupportedError           this backend or client lacks the feature (refunds, invoices)
     └── PinRefusedError             a PIN was wrong, locked out or could not be checked: the
                                     screen that asked for it stays open to ask again
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from terminal.domain import session as s
from terminal.domain.money import Asset, Money
from terminal.domain.quote import Quote
from terminal.domain.receipt import Receipt

Severity = Literal["information", "warning", "error"]

__all__ = ["Receipt"]  # re-exported: receipts are domain values now (terminal.domain.receipt)


class RegisterError(Exception):
    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message
        self.hint = hint


class NotSupportedError(RegisterError):
    pass


class PinRefusedError(RegisterError):
    pass


# -- what the register tells its host -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    title: str
    message: str
    hint: str = ""
    severity: Severity = "warning"


@dataclass(frozen=True, slots=True)
class BackendStatus:
    url: str
    connected: bool | None = None  # None: not checked yet
    api_version: str = "?"
    notices: tuple[str, ...] = ()
    queued: int = 0  # sales whose outcome the terminal still has to settle
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    device: str
    state: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Invoice:
    """A merchant-presented invoice: the URI the customer's wallet scans."""

    invoice_id: str
    uri: str
    kind: str
    status: str = "pending"
    payment_id: str | None = None


@dataclass(frozen=True, slots=True)
class SaleView:
    """Everything a screen needs to draw the current sale. Immutable: a new one per change."""

    state: s.State = s.State.IDLE
    reference: str | None = None
    base: Money | None = None
    tip: Money | None = None
    total: Money | None = None
    asset: Asset | None = None
    quote: Quote | None = None
    invoice: Invoice | None = None
    payment_id: str | None = None
    reason: str | None = None
    source: str | None = None
    inquiry: str | None = None  # what the terminal is doing about an unknown outcome
    quotes_requested: int = 0
    finished_at: float | None = None
    # the sale's readers that cannot take a payment now: (device, why), shown on the waiting screen
    lost: tuple[tuple[str, str], ...] = ()


class Update:
    """Base of what :class:`Register` emits."""


@dataclass(frozen=True, slots=True)
class SaleUpdated(Update):
    view: SaleView


@dataclass(frozen=True, slots=True)
class ReadersRequested(Update):
    devices: tuple[str, ...]
    generation: int


@dataclass(frozen=True, slots=True)
class ReadersReleased(Update):
    generation: int


@dataclass(frozen=True, slots=True)
class ReaderUpdated(Update):
    status: ReaderStatus


@dataclass(frozen=True, slots=True)
class NoticeRaised(Update):
    notice: Notice


@dataclass(frozen=True, slots=True)
class BackendUpdated(Update):
    status: BackendStatus


@dataclass(frozen=True, slots=True)
class StaffView:
    """Who is signed in (or may sign in): never a PIN or its hash."""

    staff_id: str
    name: str
    role: str  # cashier | manager


@dataclass(frozen=True, slots=True)
class StaffUpdated(Update):
    """Someone signed in (``signed_in``), or the till locked (None) because of ``why``."""

    signed_in: StaffView | None
    why: str = ""


@dataclass(frozen=True, slots=True)
class RosterChanged(Update):
    """The staff list changed (a sync with the backend): the sign-in screen reloads it."""


class InvoiceDesk(Protocol):
    """Issues merchant-presented invoices and follows their status (payments API v2)."""

    async def issue(self, *, quote: Quote, reference: str) -> Invoice: ...

    async def follow(self, invoice: Invoice) -> Invoice:
        """The invoice once it is no longer ``invoice``, or as it is after a while."""
        ...


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

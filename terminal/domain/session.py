"""The payment session as a sans-I/O state machine.

The session never does anything itself: :meth:`PaymentSession.handle` takes an event
(something that happened, named in the past tense) and returns commands (what the
application should do next, in the imperative). The allowed moves are one table,
:data:`TRANSITIONS`; anything else raises :class:`IllegalTransitionError`.

::

    idle ─AmountEntered→ amount_entered ─QuoteRequested→ quoting ─QuoteReceived→ awaiting_payment
    awaiting_payment ─PaymentPresented→ submitting ─PaymentApproved→ approved
                                                    ├PaymentDeclined→ declined
                                                    └OutcomeUnknown→ unknown_outcome
    unknown_outcome ─(status inquiry)→ approved|declined
    awaiting_payment ─QuoteExpired→ quoting (re-quote)      ─PaymentWindowClosed→ expired
    amount_entered|quoting|awaiting_payment ─SaleCancelled→ cancelled
    approved|declined|expired|cancelled|unknown_outcome ─SaleReset→ idle

Time enters only through events (``at``), so tests need no clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from terminal.domain.money import Asset, AssetKind, Money
from terminal.domain.quote import Quote


class State(enum.StrEnum):
    IDLE = "idle"
    AMOUNT_ENTERED = "amount_entered"
    QUOTING = "quoting"
    AWAITING_PAYMENT = "awaiting_payment"
    SUBMITTING = "submitting"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    UNKNOWN_OUTCOME = "unknown_outcome"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({State.APPROVED, State.DECLINED, State.EXPIRED, State.CANCELLED})


class SessionError(Exception):
    """Base of the session's errors."""


class IllegalTransitionError(SessionError):
    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{type(event).__name__} is not allowed in state {state.value}")
        self.state = state
        self.event = event


# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    pass


@dataclass(frozen=True, slots=True)
class AmountEntered(Event):
    amount: Money


@dataclass(frozen=True, slots=True)
class QuoteRequested(Event):
    asset: Asset


@dataclass(frozen=True, slots=True)
class QuoteReceived(Event):
    quote: Quote


@dataclass(frozen=True, slots=True)
class QuoteRefused(Event):
    reason: str


@dataclass(frozen=True, slots=True)
class QuoteExpired(Event):
    at: float


@dataclass(frozen=True, slots=True)
class PaymentPresented(Event):
    payload: str
    source: str  # device string of the reader
    at: float


@dataclass(frozen=True, slots=True)
class PaymentApproved(Event):
    payment_id: str


@dataclass(frozen=True, slots=True)
class PaymentDeclined(Event):
    reason: str
    payment_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeUnknown(Event):
    reason: str


@dataclass(frozen=True, slots=True)
class PaymentWindowClosed(Event):
    pass


@dataclass(frozen=True, slots=True)
class SaleCancelled(Event):
    pass


@dataclass(frozen=True, slots=True)
class SaleReset(Event):
    pass


# -- commands -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    pass


@dataclass(frozen=True, slots=True)
class RequestQuote(Command):
    amount: Money
    asset: Asset


@dataclass(frozen=True, slots=True)
class StartReaders(Command):
    pass


@dataclass(frozen=True, slots=True)
class StopReaders(Command):
    pass


@dataclass(frozen=True, slots=True)
class StartQuoteTimer(Command):
    expires_at: float


@dataclass(frozen=True, slots=True)
class SubmitPayment(Command):
    quote: Quote
    payload: str
    source: str


@dataclass(frozen=True, slots=True)
class InquireStatus(Command):
    pass


@dataclass(frozen=True, slots=True)
class ShowNotice(Command):
    message: str


@dataclass(frozen=True, slots=True)
class ShowResult(Command):
    state: State


# -- the table ------------------------------------------------------------------------

S = State
TRANSITIONS: dict[tuple[State, type[Event]], frozenset[State]] = {
    (S.IDLE, AmountEntered): frozenset({S.AMOUNT_ENTERED}),
    (S.AMOUNT_ENTERED, AmountEntered): frozenset({S.AMOUNT_ENTERED}),
    (S.AMOUNT_ENTERED, QuoteRequested): frozenset({S.QUOTING}),
    (S.AMOUNT_ENTERED, SaleCancelled): frozenset({S.CANCELLED}),
    (S.QUOTING, QuoteReceived): frozenset({S.AWAITING_PAYMENT}),
    (S.QUOTING, QuoteRefused): frozenset({S.AMOUNT_ENTERED}),
    (S.QUOTING, SaleCancelled): frozenset({S.CANCELLED}),
    (S.AWAITING_PAYMENT, PaymentPresented): frozenset({S.SUBMITTING, S.QUOTING}),
    (S.AWAITING_PAYMENT, QuoteExpired): frozenset({S.QUOTING}),
    (S.AWAITING_PAYMENT, PaymentWindowClosed): frozenset({S.EXPIRED}),
    (S.AWAITING_PAYMENT, SaleCancelled): frozenset({S.CANCELLED}),
    (S.SUBMITTING, PaymentApproved): frozenset({S.APPROVED}),
    (S.SUBMITTING, PaymentDeclined): frozenset({S.DECLINED}),
    (S.SUBMITTING, OutcomeUnknown): frozenset({S.UNKNOWN_OUTCOME}),
    (S.UNKNOWN_OUTCOME, PaymentApproved): frozenset({S.APPROVED}),
    (S.UNKNOWN_OUTCOME, PaymentDeclined): frozenset({S.DECLINED}),
    (S.UNKNOWN_OUTCOME, OutcomeUnknown): frozenset({S.UNKNOWN_OUTCOME}),
    **{(final, SaleReset): frozenset({S.IDLE}) for final in (*FINAL_STATES, S.UNKNOWN_OUTCOME)},
}


@dataclass
class PaymentSession:
    """One sale from amount entry to a result. Mutable; every change goes through :meth:`handle`."""

    state: State = State.IDLE
    amount: Money | None = None
    asset: Asset | None = None
    quote: Quote | None = None
    payload: str | None = None
    payment_id: str | None = None
    reason: str | None = None
    quotes_requested: int = 0
    history: list[State] = field(default_factory=list)

    def handle(self, event: Event) -> list[Command]:
        allowed = TRANSITIONS.get((self.state, type(event)))
        if allowed is None:
            raise IllegalTransitionError(self.state, event)
        previous = self.state
        target, commands = self._apply(event)
        assert target in allowed, f"{target} not in the table for {previous}/{type(event).__name__}"
        self.history.append(previous)
        self.state = target
        return commands

    def _apply(self, event: Event) -> tuple[State, list[Command]]:
        match event:
            case AmountEntered(amount):
                if amount.asset.kind is not AssetKind.FIAT or not amount.is_positive():
                    raise SessionError(f"a sale needs a positive fiat amount, not {amount}")
                self.amount = amount
                return S.AMOUNT_ENTERED, []
            case QuoteRequested(asset):
                assert self.amount is not None
                if asset.kind is not AssetKind.CRYPTO:
                    raise SessionError(f"{asset.code} is not a crypto asset")
                self.asset = asset
                return S.QUOTING, [self._request_quote()]
            case QuoteReceived(quote):
                if self.amount is None or quote.fiat != self.amount or quote.crypto.asset != self.asset:
                    raise SessionError("the quote does not match the sale's amount and asset")
                self.quote = quote
                return S.AWAITING_PAYMENT, [StartReaders(), StartQuoteTimer(quote.expires_at)]
            case QuoteRefused(reason):
                self.reason = reason
                return S.AMOUNT_ENTERED, [ShowNotice(f"No quote: {reason}")]
            case QuoteExpired():
                return S.QUOTING, [
                    StopReaders(),
                    ShowNotice("Quote expired; fetching a new one"),
                    self._request_quote(),
                ]
            case PaymentPresented(payload, source, at):
                assert self.quote is not None
                if self.quote.expired(at):
                    # never submit on an expired rate: re-quote, the customer taps again
                    return S.QUOTING, [
                        StopReaders(),
                        ShowNotice("Quote expired; tap again after the new quote"),
                        self._request_quote(),
                    ]
                self.payload = payload
                return S.SUBMITTING, [StopReaders(), SubmitPayment(self.quote, payload, source)]
            case PaymentApproved(payment_id):
                self.payment_id = payment_id
                return S.APPROVED, [ShowResult(S.APPROVED)]
            case PaymentDeclined(reason, payment_id):
                self.reason, self.payment_id = reason, payment_id
                return S.DECLINED, [ShowResult(S.DECLINED)]
            case OutcomeUnknown(reason):
                self.reason = reason
                return S.UNKNOWN_OUTCOME, [ShowResult(S.UNKNOWN_OUTCOME), InquireStatus()]
            case PaymentWindowClosed():
                return S.EXPIRED, [StopReaders(), ShowResult(S.EXPIRED)]
            case SaleCancelled():
                stop: list[Command] = [StopReaders()] if self.state is S.AWAITING_PAYMENT else []
                return S.CANCELLED, [*stop, ShowResult(S.CANCELLED)]
            case SaleReset():
                fresh = PaymentSession()
                for name in self.__dataclass_fields__:
                    setattr(self, name, getattr(fresh, name))
                return S.IDLE, []
        raise IllegalTransitionError(self.state, event)  # pragma: no cover - the table guards this

    def _request_quote(self) -> RequestQuote:
        assert self.amount is not None and self.asset is not None
        self.quotes_requested += 1
        return RequestQuote(self.amount, self.asset)

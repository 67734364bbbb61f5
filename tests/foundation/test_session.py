"""The payment session state machine: every legal transition, and illegal ones refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from terminal.domain import session as s
from terminal.domain.money import Money, asset
from terminal.domain.quote import Quote

EUR, BTC = asset("EUR"), asset("BTC")
AMOUNT = Money(1250, EUR)
QUOTE = Quote(
    quote_id="q1",
    fiat=AMOUNT,
    crypto=Money(14087, BTC),
    rate=Decimal("88735.0230"),
    spread_bps=100,
    issued_at=1000.0,
    expires_at=1060.0,
)
S = s.State


def at(state: s.State) -> s.PaymentSession:
    """A session driven through legal events into ``state``."""
    sess = s.PaymentSession()
    path: dict[s.State, list[s.Event]] = {
        S.IDLE: [],
        S.AMOUNT_ENTERED: [s.AmountEntered(AMOUNT)],
        S.QUOTING: [s.AmountEntered(AMOUNT), s.QuoteRequested(BTC)],
        S.AWAITING_PAYMENT: [s.AmountEntered(AMOUNT), s.QuoteRequested(BTC), s.QuoteReceived(QUOTE)],
    }
    submitting = [*path[S.AWAITING_PAYMENT], s.PaymentPresented("lnurlw://x", "sim:nfc", 1001.0)]
    path[S.SUBMITTING] = submitting
    path[S.APPROVED] = [*submitting, s.PaymentApproved("pay_1")]
    path[S.DECLINED] = [*submitting, s.PaymentDeclined("card_declined")]
    path[S.UNKNOWN_OUTCOME] = [*submitting, s.OutcomeUnknown("timeout")]
    path[S.EXPIRED] = [*path[S.AWAITING_PAYMENT], s.PaymentWindowClosed()]
    path[S.CANCELLED] = [*path[S.AMOUNT_ENTERED], s.SaleCancelled()]
    for event in path[state]:
        sess.handle(event)
    assert sess.state is state
    return sess


# One representative event per event type, used to walk the whole table.
SAMPLES: dict[type[s.Event], s.Event] = {
    s.AmountEntered: s.AmountEntered(AMOUNT),
    s.QuoteRequested: s.QuoteRequested(BTC),
    s.QuoteReceived: s.QuoteReceived(QUOTE),
    s.QuoteRefused: s.QuoteRefused("rate sources stale"),
    s.QuoteExpired: s.QuoteExpired(1060.0),
    s.PaymentPresented: s.PaymentPresented("lnurlw://x", "sim:nfc", 1001.0),
    s.PaymentApproved: s.PaymentApproved("pay_1"),
    s.PaymentDeclined: s.PaymentDeclined("card_declined"),
    s.OutcomeUnknown: s.OutcomeUnknown("timeout"),
    s.PaymentWindowClosed: s.PaymentWindowClosed(),
    s.SaleCancelled: s.SaleCancelled(),
    s.SaleReset: s.SaleReset(),
}


@pytest.mark.parametrize(("state", "event_type"), sorted(s.TRANSITIONS, key=lambda k: (k[0], k[1].__name__)))
def test_every_legal_transition(state: s.State, event_type: type[s.Event]) -> None:
    sess = at(state)
    sess.handle(SAMPLES[event_type])
    assert sess.state in s.TRANSITIONS[(state, event_type)]


ILLEGAL = [(st, et) for st in S for et in SAMPLES if (st, et) not in s.TRANSITIONS]


@pytest.mark.parametrize(("state", "event_type"), ILLEGAL)
def test_every_illegal_transition_raises_and_changes_nothing(
    state: s.State, event_type: type[s.Event]
) -> None:
    sess = at(state)
    with pytest.raises(s.IllegalTransitionError, match=event_type.__name__):
        sess.handle(SAMPLES[event_type])
    assert sess.state is state


def test_the_happy_path_commands() -> None:
    sess = s.PaymentSession()
    assert sess.handle(s.AmountEntered(AMOUNT)) == []
    assert sess.handle(s.QuoteRequested(BTC)) == [s.RequestQuote(AMOUNT, BTC)]
    assert sess.handle(s.QuoteReceived(QUOTE)) == [s.StartReaders(), s.StartQuoteTimer(1060.0)]
    cmds = sess.handle(s.PaymentPresented("lnurlw://x", "sim:nfc", 1059.9))
    assert cmds == [s.StopReaders(), s.SubmitPayment(QUOTE, "lnurlw://x", "sim:nfc")]
    assert sess.handle(s.PaymentApproved("pay_1")) == [s.ShowResult(S.APPROVED)]
    assert sess.payment_id == "pay_1"
    assert sess.history == [S.IDLE, S.AMOUNT_ENTERED, S.QUOTING, S.AWAITING_PAYMENT, S.SUBMITTING]


def test_a_tap_on_an_expired_quote_is_requoted_never_submitted() -> None:
    sess = at(S.AWAITING_PAYMENT)
    cmds = sess.handle(s.PaymentPresented("lnurlw://x", "sim:nfc", QUOTE.expires_at))
    assert sess.state is S.QUOTING
    assert not any(isinstance(c, s.SubmitPayment) for c in cmds)
    assert s.RequestQuote(AMOUNT, BTC) in cmds


def test_unknown_outcome_asks_before_anything_else() -> None:
    sess = at(S.SUBMITTING)
    assert sess.handle(s.OutcomeUnknown("reset")) == [s.ShowResult(S.UNKNOWN_OUTCOME), s.InquireStatus()]
    sess.handle(s.OutcomeUnknown("still unknown"))
    sess.handle(s.PaymentApproved("pay_9"))
    assert sess.state is S.APPROVED


def test_quote_must_match_the_sale() -> None:
    sess = at(S.QUOTING)
    other = Quote(
        quote_id="q2",
        fiat=Money(999, EUR),
        crypto=Money(1, BTC),
        rate=Decimal(1),
        spread_bps=0,
        issued_at=0,
        expires_at=1,
    )
    with pytest.raises(s.SessionError, match="does not match"):
        sess.handle(s.QuoteReceived(other))
    assert sess.state is S.QUOTING


def test_amount_must_be_positive_fiat() -> None:
    with pytest.raises(s.SessionError):
        s.PaymentSession().handle(s.AmountEntered(Money(5, BTC)))


def test_reset_starts_a_clean_sale() -> None:
    sess = at(S.DECLINED)
    sess.handle(s.SaleReset())
    assert (sess.state, sess.amount, sess.quote, sess.reason) == (S.IDLE, None, None, None)

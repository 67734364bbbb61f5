"""The daily Z-report: one pure function of the journal's records and a day window.

Every face shows the same report: ``cryptopos report`` (text and ``--json``), the TUI's report
screen, and the printer (:func:`terminal.printing.report_ops`). :func:`z_report` reads nothing
itself; the caller hands it the records (:func:`terminal.reporting.read_z_report` reads them
from the journal), so the day's boundaries and what is totalled can grow without touching I/O:

- the day is a :class:`DayWindow` (``[start, end)`` in epoch seconds and the zone it is named
  in); today it is a UTC day, a merchant's time zone only changes how the window is made;
- a sale or refund belongs to the window by its ``created_at``, whatever it became later;
- the offline queue and the open sales are "as it stands now", not of the day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from terminal.domain.money import Money, asset

# The journal's offline states (terminal.journal.OFFLINE_STATES); the domain cannot import the
# journal, and a test holds the two together.
QUEUED_STATES = ("offline_queued", "forwarding")


class SaleLike(Protocol):
    """What the report reads of a journaled sale (``terminal.journal.SaleRecord``)."""

    @property
    def state(self) -> str: ...
    @property
    def fiat_minor(self) -> int: ...
    @property
    def fiat_currency(self) -> str: ...
    @property
    def asset(self) -> str: ...
    @property
    def crypto_minor(self) -> int | None: ...
    @property
    def tip_minor(self) -> int | None: ...
    @property
    def created_at(self) -> float: ...


class RefundLike(Protocol):
    """What the report reads of a journaled refund (``terminal.journal.RefundRecord``)."""

    @property
    def state(self) -> str: ...
    @property
    def asset(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def created_at(self) -> float: ...


@dataclass(frozen=True, slots=True)
class DayWindow:
    """One business day: records created in ``[start, end)`` (epoch seconds) belong to it."""

    day: date
    start: float
    end: float
    zone: str = "UTC"  # what the day is named in, for people

    @classmethod
    def utc(cls, day: date) -> DayWindow:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return cls(day, start.timestamp(), (start + timedelta(days=1)).timestamp())

    @classmethod
    def utc_of(cls, at: float) -> DayWindow:
        """The UTC day ``at`` falls in."""
        return cls.utc(datetime.fromtimestamp(at, UTC).date())

    def __contains__(self, at: float) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class AssetTotal:
    count: int
    amount: Money | None  # None when none of these sales got a quote (cancelled, queued offline)


@dataclass(frozen=True, slots=True)
class StateTotal:
    """The sales of one state: how many, their fiat per currency, their crypto per asset."""

    count: int
    fiat: dict[str, Money]
    crypto: dict[str, AssetTotal]


@dataclass(frozen=True, slots=True)
class RefundTotal:
    count: int
    amount: Money


@dataclass(frozen=True, slots=True)
class ZReport:
    window: DayWindow
    sales: dict[str, StateTotal]  # by sale state, in name order
    tips: dict[str, Money]  # approved sales' tips (inside their totals), by currency
    refunds: dict[tuple[str, str], RefundTotal]  # by (refund state, asset)
    queued: int  # the offline queue now
    queued_fiat: dict[str, Money] = field(default_factory=dict)
    open: int = 0  # sales not settled now, besides the offline queue

    @property
    def day(self) -> str:
        return self.window.day.isoformat()

    def count(self, state: str) -> int:
        total = self.sales.get(state)
        return 0 if total is None else total.count

    def to_json(self) -> dict[str, Any]:
        """What ``cryptopos report --json`` prints: amounts as strings in major units."""
        return {
            "day": self.day,
            "zone": self.window.zone,
            "sales": {
                state: {
                    "count": t.count,
                    "fiat": {code: m.amount_str() for code, m in t.fiat.items()},
                    "crypto": {
                        code: {
                            "count": a.count,
                            "amount": None if a.amount is None else a.amount.amount_str(),
                            "minor": None if a.amount is None else str(a.amount.minor),
                        }
                        for code, a in t.crypto.items()
                    },
                }
                for state, t in self.sales.items()
            },
            "tips": {code: m.amount_str() for code, m in self.tips.items()},
            "refunds": {
                f"{state}/{code}": {"count": r.count, "amount": r.amount.amount_str()}
                for (state, code), r in self.refunds.items()
            },
            "offline_queue": {
                "count": self.queued,
                "fiat": {code: m.amount_str() for code, m in self.queued_fiat.items()},
            },
            "open": self.open,
        }

    def lines(self) -> list[str]:
        """The report as text, for a terminal or a screen (paper: ``report_ops``)."""
        out = [f"Z-report {self.day} ({self.window.zone})"]
        if not self.sales:
            out.append("  no sales")
        for state, t in self.sales.items():
            out.append(f"  {state:<16} {t.count:>5}  {_amounts(t.fiat.values())}")
            for code, a in t.crypto.items():
                paid = a.amount.format(trim=True) if a.amount is not None else "(no quote)"
                out.append(f"      {code:<12} {a.count:>5}  {paid}")
        if self.count("approved"):
            out.append(f"  {'tips':<16} {'':>5}  {_amounts(self.tips.values()) or 'none'}")
        if not self.refunds:
            out.append(f"  {'refunds':<16} {'':>5}  none")
        for (state, _code), r in self.refunds.items():
            out.append(f"  {'refund ' + state:<16} {r.count:>5}  {r.amount.format(trim=True)}")
        out.append(
            f"  {'offline queue':<16} {self.queued:>5}  {_amounts(self.queued_fiat.values())}".rstrip()
        )
        if self.open:
            out.append(f"  {'open sales':<16} {self.open:>5}  not settled yet (reconcile settles them)")
        return out


def _amounts(amounts: Iterable[Money]) -> str:
    return ", ".join(m.format() for m in amounts)


def z_report(
    window: DayWindow,
    *,
    sales: Iterable[SaleLike],
    refunds: Iterable[RefundLike],
    unsettled: Iterable[SaleLike] = (),
) -> ZReport:
    """The Z-report of ``window``: ``sales`` and ``refunds`` (records outside the window are
    left out, so the whole journal may be passed), and ``unsettled``, the sales not in a final
    state now, for the offline queue and the open sales."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    fiat: dict[tuple[str, str], int] = defaultdict(int)
    crypto: dict[tuple[str, str], int] = {}
    tips: dict[str, int] = defaultdict(int)
    for s in sales:
        if s.created_at not in window:
            continue
        counts[(s.state, s.asset)] += 1
        fiat[(s.state, s.fiat_currency)] += s.fiat_minor
        if s.crypto_minor is not None:
            crypto[(s.state, s.asset)] = crypto.get((s.state, s.asset), 0) + s.crypto_minor
        if s.state == "approved" and s.tip_minor:
            tips[s.fiat_currency] += s.tip_minor
    by_state: dict[str, StateTotal] = {}
    for state in sorted({state for state, _ in counts}):
        by_asset = {
            code: AssetTotal(
                n, Money(crypto[(state, code)], asset(code)) if (state, code) in crypto else None
            )
            for (st, code), n in sorted(counts.items())
            if st == state
        }
        by_state[state] = StateTotal(
            count=sum(a.count for a in by_asset.values()),
            fiat={
                code: Money(minor, asset(code)) for (st, code), minor in sorted(fiat.items()) if st == state
            },
            crypto=by_asset,
        )
    refund_totals: dict[tuple[str, str], tuple[int, int]] = {}
    for r in refunds:
        if r.created_at not in window:
            continue
        n, minor = refund_totals.get((r.state, r.asset), (0, 0))
        refund_totals[(r.state, r.asset)] = (n + 1, minor + r.amount_minor)
    queued, still_open = 0, 0
    queued_fiat: dict[str, int] = defaultdict(int)
    for s in unsettled:
        if s.state in QUEUED_STATES:
            queued += 1
            queued_fiat[s.fiat_currency] += s.fiat_minor
        else:
            still_open += 1
    return ZReport(
        window=window,
        sales=by_state,
        tips={code: Money(minor, asset(code)) for code, minor in sorted(tips.items())},
        refunds={
            key: RefundTotal(n, Money(minor, asset(key[1])))
            for key, (n, minor) in sorted(refund_totals.items())
        },
        queued=queued,
        queued_fiat={code: Money(minor, asset(code)) for code, minor in sorted(queued_fiat.items())},
        open=still_open,
    )

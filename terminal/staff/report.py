"""The Z-report's part per staff member, from the journal: one implementation for
``cryptopos report`` and the till's report screen."""

from __future__ import annotations

from dataclasses import dataclass

from terminal.domain.money import ASSETS, Money
from terminal.journal import Journal

# a refund in one of these states paid nothing out (yet)
NOT_PAID_OUT = ("submitting", "unknown_outcome", "failed", "rejected")


@dataclass(frozen=True, slots=True)
class StaffTotals:
    """One person's part of a day: approved sales and their takings, refunds they asked for and
    refunds they approved (as a manager). Amounts by fiat currency."""

    staff_id: str | None  # None: taken with nobody signed in (headless commands)
    name: str
    sales: int
    takings: dict[str, Money]
    refunds: int
    approvals: int


def staff_totals(journal: Journal, *, since: float, until: float) -> list[StaffTotals]:
    """Everyone who took a sale or asked for or approved a refund between ``since`` and ``until``,
    in the order of their names (nobody signed in last)."""
    sales: dict[str | None, int] = {}
    takings: dict[str | None, dict[str, Money]] = {}
    refunds: dict[str | None, int] = {}
    approvals: dict[str | None, int] = {}
    for s in journal.sales(since=since, until=until):
        if s.state != "approved" or s.fiat_currency not in ASSETS:
            continue
        sales[s.staff_id] = sales.get(s.staff_id, 0) + 1
        own = takings.setdefault(s.staff_id, {})
        fiat = Money(s.fiat_minor, ASSETS[s.fiat_currency])
        own[s.fiat_currency] = own.get(s.fiat_currency, Money(0, fiat.asset)) + fiat
    for r in journal.refunds(since=since, until=until):
        if r.state in NOT_PAID_OUT:
            continue
        refunds[r.staff_id] = refunds.get(r.staff_id, 0) + 1
        if r.approved_by is not None:
            approvals[r.approved_by] = approvals.get(r.approved_by, 0) + 1
    people = set(sales) | set(refunds) | set(approvals)
    names = {m.staff_id: m.name for m in journal.staff()}
    out = [
        StaffTotals(
            staff_id=p,
            name=names.get(p, p) if p is not None else "(nobody signed in)",
            sales=sales.get(p, 0),
            takings=takings.get(p, {}),
            refunds=refunds.get(p, 0),
            approvals=approvals.get(p, 0),
        )
        for p in people
    ]
    return sorted(out, key=lambda t: (t.staff_id is None, t.name.lower(), t.staff_id or ""))

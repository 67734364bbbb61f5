"""Printing at the till: a sale's receipt (the result, receipt and detail screens) and the day's
Z-report (the report screen) on the configured receipt printer (``[printer]``).

What is printed is read from the journal, so a reprint is the same paper as the first print,
and every face prints the same receipt (:func:`terminal.printing.receipt_for`). Talking to the
printer blocks (a connection, a status query of up to a second, the bytes): it runs in a
thread, off the screen's event loop, and never under the sale's lock: a till whose printer is
off takes the next sale as usual. Every outcome is a notice: printed (with a paper-low warning),
or what went wrong and the next step (:class:`terminal.printing.PrintFailedError`). A print never
changes a sale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from terminal.domain import session as s
from terminal.domain.receipt import Receipt
from terminal.tui.till.records import Records
from terminal.tui.updates import RegisterError

if TYPE_CHECKING:
    from drivers.printer import PrintResult


class PrintingSteps(Records):
    _printing: str | None  # what is being printed now (one job at a time)

    def receipt_of(self, reference: str) -> Receipt:
        """The receipt of the journaled sale ``reference``, as the printer and the screen show it."""
        from terminal.printing import RECEIPT_STATES, receipt_for

        record = self.journal.get(reference)
        if record is None:
            raise RegisterError("No receipt", f"sale {reference} is not in the journal")
        if record.state not in RECEIPT_STATES:
            raise RegisterError(
                "No receipt",
                f"sale {reference} is {record.state.replace('_', ' ')}",
                "only an approved or declined sale has a receipt",
            )
        return receipt_for(record, merchant=self.settings.merchant.name, terminal=self.settings.terminal.id)

    def receipt(self) -> Receipt | None:
        """The receipt of the current sale, once it is approved or declined."""
        reference = self.view.reference
        if reference is None or self.session.state not in (s.State.APPROVED, s.State.DECLINED):
            return None
        try:
            return self.receipt_of(reference)
        except RegisterError:
            return None  # stored offline: no outcome yet, so no receipt

    async def print_receipt(self, reference: str) -> PrintResult | None:
        """Print (or print again) the receipt of sale ``reference``."""
        from terminal.printing import print_receipt

        receipt = self.receipt_of(reference)  # read here: the journal belongs to this loop
        return await self._print(
            f"the receipt of {receipt.payment_id or receipt.reference}",
            lambda: print_receipt(receipt, self.settings),
        )

    async def print_report(self, day: date | None = None) -> PrintResult | None:
        """Print the Z-report of ``day`` (default: today), the one the report screen shows."""
        from terminal.printing import print_report

        report = self.daily_report(day=day)
        return await self._print(
            f"the Z-report of {report.day}",
            lambda: print_report(report, self.settings, printed_at=self.clock()),
        )

    async def _print(self, what: str, job: Callable[[], PrintResult]) -> PrintResult | None:
        from terminal.printing import PrintFailedError

        if self._printing is not None:
            self._notice("Printer busy", f"still printing {self._printing}", "wait for it, then print again")
            return None
        self._printing = what
        try:
            result = await asyncio.to_thread(job)
        except PrintFailedError as exc:
            self._notice(exc.title, exc.message, exc.hint, "error")
            return None
        finally:
            self._printing = None
        self._notice("Printed", f"{what} on {result.device}", severity="information")
        for warning in result.warnings:
            self._notice(f"Printer {warning}", "the receipt was printed", "put in a new roll soon")
        return result

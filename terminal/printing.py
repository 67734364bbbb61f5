"""Receipts and the daily report on paper.

The layout is pure: :func:`receipt_ops` and :func:`report_ops` turn a receipt or a Z-report
into :mod:`drivers.printer` operations fitted to the paper's columns. Printing is at the edge:
:func:`print_ops` opens the configured printer (or the one a flag names) and sends them; it
blocks, so the TUI runs it in a thread. Every failure is a :class:`PrintFailedError` with a
title, a message and the next step; a sale is never touched by printing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from drivers.printer import (
    Cut,
    Feed,
    Line,
    Op,
    Printer,
    PrinterError,
    PrintResult,
    QrCode,
    UnknownProfileError,
    open_printer,
)
from drivers.registry import DeviceStringError, MissingExtraError
from terminal.config import Settings
from terminal.domain.money import ASSETS, Money
from terminal.domain.receipt import Receipt, receipt_link
from terminal.domain.zreport import ZReport
from terminal.journal import SaleRecord

# What has a receipt: a sale that reached an answer from the backend (a refund keeps its sale's).
RECEIPT_STATES = ("approved", "declined", "refunded")
QR_MODULE = 6  # dots per module: about 0.75 mm at 203 dpi, easy for a phone camera


class PrintFailedError(Exception):
    """Nothing (or not all) was printed: ``title``, ``message`` and ``hint`` say what to do."""

    def __init__(self, title: str, message: str, hint: str) -> None:
        super().__init__(f"{title}: {message}")
        self.title = title
        self.message = message
        self.hint = hint


# -- layout (pure) -----------------------------------------------------------------------------


def _wrap(text: str, width: int) -> list[str]:
    """Hard-wrap ``text`` (ids and URIs have no spaces to break at) to ``width``."""
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def _row(key: str, value: str, columns: int, *, bold: bool = False) -> list[Line]:
    """``key`` on the left, ``value`` on the right; too long for one line: the key, then the
    value right-aligned on the lines below it, wrapped, never cut."""
    if len(key) + 1 + len(value) <= columns:
        return [Line(f"{key}{value:>{columns - len(key)}}", bold=bold)]
    return [Line(key, bold=bold)] + [Line(part, bold=bold, align="right") for part in _wrap(value, columns)]


def _title(text: str, columns: int) -> list[Line]:
    """Double size when it fits in half the columns, otherwise normal size, wrapped."""
    if len(text) * 2 <= columns:
        return [Line(text, bold=True, align="center", double=True)]
    return [Line(part, bold=True, align="center") for part in _wrap(text, columns)]


def receipt_ops(receipt: Receipt, *, columns: int) -> list[Op]:
    """The printed receipt: header, the sale's lines, tip, total, what was paid at which rate,
    the outcome and ids, the QR, then a cut."""
    rule = Line("-" * columns)
    ops: list[Op] = [
        *_title(receipt.merchant, columns),
        *[Line(part, align="center") for part in _wrap(f"terminal {receipt.terminal}", columns)],
        Line(receipt.when, align="center"),
        rule,
    ]
    if receipt.tip is not None:
        ops += _row("Sale", receipt.sale.format(), columns)
        ops += _row("Tip", receipt.tip.format(), columns)
    ops += _row("TOTAL", receipt.fiat.format(), columns, bold=True)
    if receipt.crypto is not None:
        ops.append(rule)
        ops += _row("Paid", receipt.crypto.format(trim=True), columns)
        if receipt.rate is not None:
            pair = f"{receipt.fiat.asset.code}/{receipt.crypto.asset.code}"
            ops += _row("Rate", f"{receipt.rate} {pair}", columns)
    ops += [rule, *_title(receipt.status.upper(), columns)]
    ops += _row("Payment", receipt.payment_id or "-", columns)
    if receipt.quote_id:
        ops += _row("Quote", receipt.quote_id, columns)
    ops += _row("Reference", receipt.reference, columns)
    ops += [Feed(1), QrCode(receipt.link, module=QR_MODULE), Line("payment record", align="center"), Cut()]
    return ops


def report_ops(report: ZReport, *, merchant: str, terminal: str, printed_at: float, columns: int) -> list[Op]:
    """The printed Z-report, then a cut."""
    rule = Line("-" * columns)
    printed = datetime.fromtimestamp(printed_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    ops: list[Op] = [
        *_title(merchant, columns),
        Line("Z-REPORT", bold=True, align="center"),
        Line(f"{report.day} ({report.window.zone})", align="center"),
        Line(f"terminal {terminal}", align="center"),
        Line(f"printed {printed}", align="center"),
        rule,
    ]
    if not report.sales:
        ops.append(Line("no sales"))
    for state, total in report.sales.items():
        fiat = ", ".join(m.format() for m in total.fiat.values())
        ops += _row(f"{state} x{total.count}", fiat, columns, bold=state == "approved")
        for code, c in total.crypto.items():
            paid = c.amount.format(trim=True) if c.amount is not None else "(no quote)"
            ops += _row(f"  {code} x{c.count}", paid, columns)
    if report.count("approved"):
        ops += _row("tips", ", ".join(m.format() for m in report.tips.values()) or "none", columns)
    ops.append(rule)
    if not report.refunds:
        ops += _row("refunds", "none", columns)
    for (state, _code), r in report.refunds.items():
        ops += _row(f"refund {state} x{r.count}", r.amount.format(trim=True), columns)
    waiting = ", ".join(m.format() for m in report.queued_fiat.values())
    ops += _row(f"offline queue x{report.queued}", waiting or "-", columns)
    if report.open:
        ops += _row("open sales", str(report.open), columns)
    ops += [Feed(1), Cut()]
    return ops


def receipt_for(record: SaleRecord, *, merchant: str, terminal: str) -> Receipt:
    """The receipt of a journaled sale (a reprint, ``cryptopos receipt``)."""
    fiat_asset = ASSETS[record.fiat_currency]
    crypto_asset = ASSETS.get(record.asset)
    return Receipt(
        merchant=merchant,
        terminal=terminal,
        at=record.updated_at,
        status=record.state,
        fiat=Money(record.fiat_minor, fiat_asset),
        tip=Money(record.tip_minor, fiat_asset) if record.tip_minor else None,
        crypto=(
            Money(record.crypto_minor, crypto_asset)
            if crypto_asset is not None and record.crypto_minor is not None
            else None
        ),
        rate=record.rate,
        quote_id=record.quote_id,
        payment_id=record.payment_id,
        reference=record.reference,
        link=receipt_link(record.payment_id, record.reference),
    )


# -- printing (I/O) -------------------------------------------------------------------------


def printer_for(settings: Settings, device: str | None = None) -> Printer:
    """The configured printer, or ``device`` instead; a bad one is a :class:`PrintFailedError`."""
    cfg = settings.printer
    try:
        return open_printer(device or cfg.device, profile=cfg.profile, qr=cfg.qr, columns=cfg.columns)
    except (DeviceStringError, UnknownProfileError, MissingExtraError) as exc:
        raise failure(exc) from None


def failure(exc: Exception) -> PrintFailedError:
    """A driver's error as what the cashier reads."""
    if isinstance(exc, PrinterError):
        return PrintFailedError(exc.title, exc.message, exc.hint)
    if isinstance(exc, MissingExtraError):
        return PrintFailedError("Printer support missing", str(exc), f"pip install 'cryptopos[{exc.extra}]'")
    if isinstance(exc, DeviceStringError | UnknownProfileError):
        return PrintFailedError(
            "Printer not set up", str(exc), "fix [printer] in the configuration (`cryptopos config check`)"
        )
    return PrintFailedError(
        "Printing failed",
        f"{type(exc).__name__}: {exc}",
        "check the printer, then print again; the sale itself is journaled",
    )


def print_ops(printer: Printer, ops: Sequence[Op]) -> PrintResult:
    """Send ``ops`` to ``printer``; any failure is a :class:`PrintFailedError`."""
    try:
        return printer.print(ops)
    except PrintFailedError:
        raise
    except Exception as exc:  # a driver's surprise is a notice too, never a crashed till
        raise failure(exc) from None


def print_receipt(receipt: Receipt, settings: Settings, *, device: str | None = None) -> PrintResult:
    printer = printer_for(settings, device)
    return print_ops(printer, receipt_ops(receipt, columns=_columns(printer)))


def print_report(
    report: ZReport,
    settings: Settings,
    *,
    device: str | None = None,
    printed_at: float | None = None,
) -> PrintResult:
    printer = printer_for(settings, device)
    ops = report_ops(
        report,
        merchant=settings.merchant.name,
        terminal=settings.terminal.id,
        printed_at=time.time() if printed_at is None else printed_at,
        columns=_columns(printer),
    )
    return print_ops(printer, ops)


def _columns(printer: Printer) -> int:
    try:
        return printer.columns
    except Exception as exc:
        raise failure(exc) from None

"""``cryptopos receipt PAYMENT_ID [--printer DEVICE]``: print (or reprint) a sale's receipt from
the journal on the configured receipt printer ([printer] device) or the one ``--printer`` names.

``--text`` prints it here instead; so does a till without a printer (``printer:none``), saying
so. A printer that is off, out of paper or open is exit 1 with what to do; the sale itself is
never touched.
"""

from __future__ import annotations

import argparse

from terminal.cli.common import EXIT_FAILED, EXIT_OK, CliError, err, load


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("payment_id", help="the payment id (or the sale's reference)")
    p.add_argument(
        "--printer",
        metavar="DEVICE",
        help="printer:net:HOST[:PORT], printer:usb:VID:PID, printer:serial:PORT, printer:file:PATH or "
        "printer:none (default: [printer] device)",
    )
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--text", action="store_true", help="print the receipt here as text, not on paper")


def run(args: argparse.Namespace) -> int:
    from drivers.printer import DeviceStringError, parse_printer_string
    from terminal.journal import Journal
    from terminal.printing import RECEIPT_STATES, PrintFailedError, print_receipt, receipt_for

    settings = load(args, {"journal.path": (args.journal, "--journal")}).settings
    device = args.printer or settings.printer.device
    try:
        no_printer = parse_printer_string(device).kind == "none"
    except DeviceStringError as exc:
        raise CliError(f"--printer: {exc}") from None
    if not settings.journal.path.exists():
        raise CliError(f"no journal at {settings.journal.path}; no sale was taken with this configuration")
    journal = Journal(settings.journal.path)
    try:
        record = journal.by_payment_id(args.payment_id) or journal.get(args.payment_id)
    finally:
        journal.close()
    if record is None:
        raise CliError(
            f"no sale with payment id or reference {args.payment_id!r} in {settings.journal.path}"
            " (`cryptopos history` lists them)"
        )
    if record.state not in RECEIPT_STATES:
        raise CliError(
            f"sale {record.reference} is {record.state}: only {', '.join(RECEIPT_STATES)} sales have"
            " a receipt",
            EXIT_FAILED,
        )
    receipt = receipt_for(record, merchant=settings.merchant.name, terminal=settings.terminal.id)
    if args.text or no_printer:
        print(receipt.text(width=settings.printer.columns or 42), end="")
        print(receipt.link)
        if not args.text:
            err(
                "cryptopos: no receipt printer configured (printer:none): the receipt is shown here;"
                " set [printer] device or pass --printer to print it"
            )
        return EXIT_OK
    try:
        result = print_receipt(receipt, settings, device=device)
    except PrintFailedError as exc:
        err(f"cryptopos: {exc.title}: {exc.message}\n  → {exc.hint}")
        return EXIT_FAILED
    for warning in result.warnings:
        err(f"cryptopos: the printer reports {warning}: put in a new roll soon")
    print(f"printed the receipt of {record.payment_id or record.reference} on {result.device}")
    return EXIT_OK

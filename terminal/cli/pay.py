"""``cryptopos pay``: one sale, headless, from amount to result."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from terminal.cli.common import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, CliError, load, require_readers

if TYPE_CHECKING:
    import httpx

    from terminal.client import DeprecationNotice
    from terminal.config import Settings
    from terminal.domain.money import Asset, Money
    from terminal.journal import Journal
    from terminal.sale import SaleReport

EXIT_BY_STATUS = {
    "approved": EXIT_OK,
    "declined": EXIT_FAILED,
    "expired": EXIT_FAILED,
    "cancelled": EXIT_FAILED,
    "unknown": EXIT_UNKNOWN,
    "failed": EXIT_FAILED,
    "queued": EXIT_OK,
}


def arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Quote, wait for a tap or scan, submit, print the result."
    p.add_argument("--amount", required=True, help="fiat amount, e.g. 12.50")
    p.add_argument("--currency", help="fiat currency (default: terminal.fiat_currency)")
    p.add_argument("--asset", default="BTC", help="crypto asset to pay in (default: BTC)")
    p.add_argument(
        "--reader",
        action="append",
        help="reader device string; repeat for several (default: terminal.readers)",
    )
    p.add_argument("--backend", help="'embedded' or the backend's URL (default: backend.url)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument(
        "--wait", type=float, help="seconds to wait for the customer (default: timeouts.payment_wait_s)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--no-reconcile",
        action="store_true",
        help="do not settle the journal's open sales and offline queue before this sale",
    )


def parse_sale(settings: Settings, amount_text: str, asset_code: str) -> tuple[Money, Asset]:
    from terminal.domain.money import Money, MoneyError, UnknownAssetError, asset

    accepted = ", ".join(settings.terminal.accepted_assets)
    try:
        crypto = asset(asset_code)
    except UnknownAssetError:
        # the assets a sale can be paid in; fiat codes are no answer to --asset
        raise CliError(f"unknown asset {asset_code!r}; accepted here: {accepted}") from None
    try:
        if crypto.code not in settings.terminal.accepted_assets:
            raise CliError(f"{crypto.code} is not accepted here; accepted: {accepted}")
        return Money.parse(amount_text, settings.terminal.fiat_currency), crypto
    except MoneyError as exc:
        raise CliError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    import asyncio

    loaded = load(
        args,
        {
            "terminal.fiat_currency": (args.currency, "--currency"),
            "terminal.readers": (args.reader, "--reader"),
            "backend.url": (args.backend, "--backend"),
            "journal.path": (args.journal, "--journal"),
            "timeouts.payment_wait_s": (args.wait, "--wait"),
        },
    )
    settings = loaded.settings
    amount, crypto = parse_sale(settings, args.amount, args.asset)
    require_readers(settings.terminal.readers)
    report = asyncio.run(take_payment(settings, amount, crypto, reconcile_first=not args.no_reconcile))
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(human_summary(report))
    return EXIT_BY_STATUS.get(report.status, EXIT_UNKNOWN)


def notice_recorder(journal: Journal) -> Callable[[DeprecationNotice], None]:
    """Keep the backend's deprecation notices in the journal, for `cryptopos doctor`."""

    def record(n: DeprecationNotice) -> None:
        journal.record_notice(api=n.api, deprecation=n.deprecation, sunset=n.sunset, link=n.link)

    return record


async def take_payment(
    settings: Settings,
    amount: Money,
    crypto: Asset,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    reconcile_first: bool = False,
) -> SaleReport:
    """One sale with the configured backend; ``transport`` lets several sales share one embedded backend."""
    from drivers.registry import DriverError
    from terminal.client.factory import client_from_settings
    from terminal.journal import Journal
    from terminal.sale import SaleRunner, offline_policy
    from terminal.settlement import reconcile

    policy = offline_policy(settings)  # the settings model checked every cap in its currency
    journal = Journal(settings.journal.path)
    try:
        async with client_from_settings(
            settings, transport=transport, on_notice=notice_recorder(journal)
        ) as client:
            if reconcile_first and journal.unsettled():
                await reconcile(client=client, journal=journal, idle_s=settings.timeouts.payment_wait_s + 30)
            runner = SaleRunner(
                client=client,
                journal=journal,
                terminal_id=settings.terminal.id,
                readers=settings.terminal.readers,
                payment_wait_s=settings.timeouts.payment_wait_s,
                offline=policy,
            )
            try:
                return await runner.run(amount, crypto)
            except DriverError as exc:
                raise CliError(str(exc)) from None
    finally:
        journal.close()


def human_summary(r: SaleReport) -> str:
    lines = [
        f"{r.status.upper():9} {r.fiat.format()}"
        + (f" = {r.crypto.format(trim=True)} @ {r.rate}" if r.crypto else "")
    ]
    if r.payment_id:
        lines.append(f"          payment {r.payment_id}")
    if r.reason:
        lines.append(f"          reason: {r.reason}")
    if r.next_step:
        lines.append(f"          next: {r.next_step}")
    lines += [f"          note: {n}" for n in r.notices]
    lines.append(f"          reference {r.reference}, {r.timings_ms.get('total', 0):.0f} ms")
    return "\n".join(lines)

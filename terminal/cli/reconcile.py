"""``cryptopos reconcile``: settle every open sale with the backend and forward the offline queue."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

from terminal.cli.common import EXIT_OK, EXIT_UNKNOWN, load
from terminal.cli.pay import notice_recorder

if TYPE_CHECKING:
    from terminal.config import Settings
    from terminal.settlement import ReconcileReport


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", help="'embedded' or the backend's URL (default: backend.url)")
    p.add_argument("--journal", help="journal path (default: journal.path)")
    p.add_argument("--no-forward", action="store_true", help="do not forward the offline queue")
    p.add_argument("--json", action="store_true", help="print one JSON object")


async def settle(settings: Settings, *, forward: bool) -> ReconcileReport:
    from terminal.cli.progress import Progress
    from terminal.client.factory import client_from_settings
    from terminal.health import heartbeat_body, send_heartbeat
    from terminal.journal import Journal
    from terminal.settlement import reconcile

    journal = Journal(settings.journal.path)
    shown = Progress("reconciling")
    try:
        async with client_from_settings(settings, on_notice=notice_recorder(journal)) as client:
            # another terminal process may be waiting for a tap on a recent sale: leave those
            idle = settings.timeouts.payment_wait_s + 30
            report = await reconcile(
                client=client, journal=journal, forward=forward, idle_s=idle, progress=shown.step
            )
            # the fleet view's "last reconcile": no readers here, the till's own beat names them
            body = heartbeat_body(journal, readers={}, last_reconcile_at=time.time())
            await send_heartbeat(client, body)
            return report
    finally:
        shown.close()
        journal.close()


def run(args: argparse.Namespace) -> int:
    import asyncio

    from terminal.client import BackendError
    from terminal.settlement import ReconcileReport

    settings = load(
        args, {"backend.url": (args.backend, "--backend"), "journal.path": (args.journal, "--journal")}
    ).settings
    try:
        rep = asyncio.run(settle(settings, forward=not args.no_forward))
    except BackendError as exc:  # pragma: no cover - reconcile reports per sale; this is set-up
        rep = ReconcileReport(left={"*": f"{exc.title}: {exc.message}"})
    if args.json:
        print(json.dumps({"settled": rep.settled, "forwarded": rep.forwarded, "left": rep.left}))
    else:
        for ref, state in rep.settled.items():
            print(f"settled    {ref}: {state}")
        for ref in rep.forwarded:
            print(f"forwarded  {ref}")
        for ref, why in rep.left.items():
            print(f"still open {ref}: {why}")
        if not (rep.settled or rep.left):
            print("nothing to reconcile")
    return EXIT_OK if rep.clean else EXIT_UNKNOWN

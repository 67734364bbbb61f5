"""A terminal that takes payments until it is killed: the subject of the crash test.

On start it prints ``reconciling``, reconciles its journal as a terminal does (asking again while
a sale was sent only moments ago, forwarding the offline queue), prints the result as JSON, waits for ``go`` on stdin, prints ``ready``
and then takes payments one after another with the simulated reader, against a real backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

from terminal.client import BackendClient, RetryPolicy
from terminal.domain.money import Money, asset
from terminal.journal import Journal
from terminal.sale import SaleRunner
from terminal.settlement import reconcile

PAYLOADS = ["cryptopos-test:card:approve"] * 4 + ["cryptopos-test:card:decline"]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--journal", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-sales", type=int, default=2000)
    ap.add_argument("--max-seconds", type=float, default=30.0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    journal = Journal(Path(args.journal))
    async with BackendClient(
        base_url=args.url,
        key_id=args.key_id,
        secret=args.secret.encode(),
        api_version="auto",
        policy=RetryPolicy(max_attempts=4, base_s=0.02, cap_s=0.1),
    ) as client:
        print("reconciling", flush=True)
        for _ in range(20):
            result = await reconcile(client=client, journal=journal, grace_s=0.2)
            if result.clean:
                break
            await asyncio.sleep(0.1)
        print(json.dumps({"reconciled": result.settled, "left": result.left}), flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        print("ready", flush=True)
        started = time.monotonic()
        for _ in range(args.max_sales):
            if time.monotonic() - started > args.max_seconds:
                break
            runner = SaleRunner(
                client=client,
                journal=journal,
                terminal_id="t_crash",
                readers=[f"sim:nfc?payload={rng.choice(PAYLOADS)}&delay=0"],
                payment_wait_s=5.0,
                inquiry_delay_s=0.02,
            )
            await runner.run(Money(rng.randint(100, 10_000), asset("EUR")), asset("BTC"))
    journal.close()


if __name__ == "__main__":
    asyncio.run(main())

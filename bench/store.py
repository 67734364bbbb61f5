"""The ledger's real write pattern on SQLite and on PostgreSQL, with 1, 4 and 8 writer processes.

One payment here is what the services do for one sale, with their own code and SQL:
the quote request's nonce (replay cache), the quote (``rates.core.save``, one transaction),
the payment request's nonce, and the payment: claim of the idempotency key, quote check,
reference check, sequence number, the payment row and the stored response in one transaction
(``Store.claim_idempotent`` ... ``complete_idempotent``). Two durable commits per sale.

PostgreSQL is pgserver's server in a temporary folder on the same disk as the SQLite file,
with its defaults (fsync on, synchronous_commit on). Prints payments/s (all writers together)
and the p99 of one payment's writes; ``--write`` puts the table into docs/BENCHMARKS.md.
Figures move with the machine's load: ``uptime`` is printed beside them.

    .venv/bin/python bench/store.py [--seconds 4] [--writers 1,4,8] [--write]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BEGIN, END = "<!-- bench/store.py begin -->", "<!-- bench/store.py end -->"


def writer(url: str, key_file: str, seconds: float, start_at: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from backend_stub.services.common import Context
    from backend_stub.services.payments import core
    from backend_stub.services.rates import core as rates
    from backend_stub.settings import ServiceSettings
    from backend_stub.store import Store
    from terminal.domain.money import Money, asset

    store = Store(url, key_file=Path(key_file))
    ctx = Context.create(store=store, settings=ServiceSettings(), build="bench")
    terminal, tag = "t_bench", secrets.token_hex(4)
    lat: list[float] = []
    time.sleep(max(0.0, start_at - time.time()))
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        t0 = time.perf_counter()
        now = time.time()
        store.remember_request(
            f"terminal:{terminal}", secrets.token_hex(12), "d", now=now, keep_until=now + 301, signed_at=now
        )
        q = rates.price(ctx, Money(1250 + i % 100, asset("EUR")), "BTC")
        store.transaction(lambda db, q=q: rates.save(db, q, terminal=terminal, doc=rates.doc_v2(q)))
        store.remember_request(
            f"terminal:{terminal}", secrets.token_hex(12), "d", now=now, keep_until=now + 301, signed_at=now
        )
        ref, key = f"{tag}-{i}", f"k-{tag}-{i}"

        def pay(db, q=q, ref=ref, key=key, now=now):  # type: ignore[no-untyped-def]
            begun = store.claim_idempotent(db, f"terminal:{terminal}", key, "fp", now=now, lease_s=30)
            assert begun.outcome == "started"
            quote = core.load_quote(db, q.quote_id, terminal=terminal)
            core.check_reference(db, terminal=terminal, reference=ref)
            row = core.insert_payment(
                db,
                ctx,
                terminal=terminal,
                reference=ref,
                q=quote,
                method="card",
                status="approved",
                reason=None,
            )
            doc = core.doc_v2(row)
            store.complete_idempotent(db, f"terminal:{terminal}", key, 201, doc)

        store.transaction(pay)
        lat.append(time.perf_counter() - t0)
        i += 1
    store.close()
    out.put(lat)


def run(url: str, key_file: str, n: int, seconds: float) -> tuple[float, float, float]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 3.0  # every writer has imported and connected by then
    procs = [ctx.Process(target=writer, args=(url, key_file, seconds, start_at, out)) for _ in range(n)]
    for p in procs:
        p.start()
    lats: list[float] = []
    for _ in procs:
        lats += out.get(timeout=seconds + 120)
    for p in procs:
        p.join()
    lats.sort()
    return (
        len(lats) / seconds,
        lats[len(lats) // 2] * 1000,
        lats[min(len(lats) - 1, int(len(lats) * 0.99))] * 1000,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0, help="measured time per run (default 4)")
    ap.add_argument("--writers", default="1,4,8", help="writer process counts (default 1,4,8)")
    ap.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    args = ap.parse_args()
    counts = [int(x) for x in args.writers.split(",")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import postgres_server
    from backend_stub.store import MasterKey

    where = Path(
        tempfile.mkdtemp(
            prefix="cryptopos-bench-store-", dir="/var/tmp" if Path("/var/tmp").is_dir() else None
        )
    )
    key_file = where / "master.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, MasterKey.generate().key.hex().encode())
    os.close(fd)
    server = postgres_server.get_server(where / "pg", cleanup_mode="delete")
    rows = []
    load_before = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    try:
        for n in counts:
            for kind in ("sqlite", "postgresql"):
                if kind == "sqlite":
                    url = f"sqlite:///{where / f'ledger-{n}.sqlite3'}"
                else:
                    import psycopg

                    name = f"bench_{n}"
                    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                        conn.execute(f"CREATE DATABASE {name}")
                    url = server.get_uri(name)
                per_s, p50, p99 = run(url, str(key_file), n, args.seconds)
                rows.append((kind, n, per_s, p50, p99))
                print(
                    json.dumps(
                        {
                            "store": kind,
                            "writers": n,
                            "payments_per_s": round(per_s, 1),
                            "p50_ms": round(p50, 2),
                            "p99_ms": round(p99, 2),
                        }
                    ),
                    flush=True,
                )
    finally:
        server.cleanup()
    load_after = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    lines = [
        f"The ledger's write pattern per sale (2 nonces in the replay cache, the quote, and the payment "
        f"with its idempotency record in one transaction), {args.seconds:g} s per run, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        "PostgreSQL 16 (pgserver, defaults), "
        "SQLite WAL with synchronous=FULL; both on the same disk.",
        "",
        "| store | writer processes | payments/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
        *(f"| {k} | {n} | {s:,.0f} | {a:.1f} | {b:.1f} |" for k, n, s, a, b in rows),
        "",
        f"Load before: `{load_before}`; after: `{load_after}`.",
    ]
    print("\n".join(lines))
    if args.write:
        path = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
        block = "\n".join(
            [BEGIN, "## The ledger's writes, SQLite and PostgreSQL (bench/store.py)", "", *lines, END]
        )
        text = path.read_text() if path.exists() else "# Benchmarks\n"
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        path.write_text(text)
        print(f"written to {path}")


if __name__ == "__main__":
    main()

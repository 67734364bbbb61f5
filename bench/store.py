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


CARDS = 32  # issued Bolt Cards in the card-tap pattern (a tap is checked against each one's K1)


def card_keys(n: int) -> tuple[bytes, bytes, bytes]:
    """Card ``n``'s UID, K1 and K2 (each card has keys of its own)."""
    seed = n.to_bytes(2, "big")
    return bytes.fromhex("04") + seed + b"\x00\x00\x00\x00", seed * 8, (seed * 8)[::-1]


def writer(
    url: str,
    key_file: str,
    seconds: float,
    start_at: float,
    out: mp.Queue,  # type: ignore[type-arg]
    card: int | None,
) -> None:
    from backend_stub.services.common import Context
    from backend_stub.services.payments import core, methods
    from backend_stub.services.rates import core as rates
    from backend_stub.settings import ServiceSettings
    from backend_stub.store import Store
    from terminal.domain.money import Money, asset
    from terminal.domain.payloads.boltcard import encrypt_sun

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

        tap = None
        if card is not None:  # this writer's card, tapped once per sale with the next counter
            uid, k1, k2 = card_keys(card)
            tap = encrypt_sun(uid, i + 1, k1=k1, k2=k2)

        def pay(db, q=q, ref=ref, key=key, now=now, tap=tap):  # type: ignore[no-untyped-def]
            begun = store.claim_idempotent(db, f"terminal:{terminal}", key, "fp", now=now, lease_s=30)
            assert begun.outcome == "started"
            quote = core.load_quote(db, q.quote_id, terminal=terminal)
            core.check_reference(db, terminal=terminal, reference=ref)
            status, method = "approved", "card"
            if tap is not None:
                verdict = methods.verify_boltcard(db, store, *tap)
                assert verdict.status == "approved", verdict
                method = verdict.method
            row = core.insert_payment(
                db,
                ctx,
                terminal=terminal,
                reference=ref,
                q=quote,
                method=method,
                status=status,
                reason=None,
            )
            doc = core.doc_v2(row)
            store.complete_idempotent(db, f"terminal:{terminal}", key, 201, doc)

        store.transaction(pay)
        lat.append(time.perf_counter() - t0)
        i += 1
    out.put((lat, store.retries))
    store.close()


def run(url: str, key_file: str, n: int, seconds: float, *, cards: bool) -> tuple[float, float, float, float]:
    """payments/s, p50 ms, p99 ms, and retries per payment (PostgreSQL asking to run a
    transaction again)."""
    if cards:
        from backend_stub.store import Store

        store = Store(url, key_file=Path(key_file))
        for c in range(CARDS):
            uid, k1, k2 = card_keys(c)
            store.add_card(uid.hex(), k1=k1, k2=k2, now=time.time())
        store.close()
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start_at = time.time() + 3.0  # every writer has imported and connected by then
    procs = [
        ctx.Process(target=writer, args=(url, key_file, seconds, start_at, out, w if cards else None))
        for w in range(n)
    ]
    for p in procs:
        p.start()
    lats: list[float] = []
    retries = 0
    for _ in procs:
        got, again = out.get(timeout=seconds + 120)
        lats += got
        retries += again
    for p in procs:
        p.join()
    lats.sort()
    return (
        len(lats) / seconds,
        lats[len(lats) // 2] * 1000,
        lats[min(len(lats) - 1, int(len(lats) * 0.99))] * 1000,
        retries / max(1, len(lats)),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0, help="measured time per run (default 4)")
    ap.add_argument("--writers", default="1,4,8", help="writer process counts (default 1,4,8)")
    ap.add_argument(
        "--patterns",
        default="sale,card",
        help="sale: a payment with a test card; card: a Bolt Card tap (all cards' keys tried, the "
        "tapped card's counter advanced in the payment's transaction). Default: both",
    )
    ap.add_argument("--stores", default="sqlite,postgresql", help="default: both")
    ap.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    args = ap.parse_args()
    counts = [int(x) for x in args.writers.split(",")]
    patterns = args.patterns.split(",")
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
        for pattern in patterns:
            for n in counts:
                for kind in args.stores.split(","):
                    if kind == "sqlite":
                        url = f"sqlite:///{where / f'ledger-{pattern}-{n}.sqlite3'}"
                    else:
                        import psycopg

                        name = f"bench_{pattern}_{n}"
                        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                            conn.execute(f"CREATE DATABASE {name}")
                        url = server.get_uri(name)
                    per_s, p50, p99, retries = run(
                        url, str(key_file), n, args.seconds, cards=pattern == "card"
                    )
                    rows.append((kind, pattern, n, per_s, p50, p99, retries))
                    print(
                        json.dumps(
                            {
                                "store": kind,
                                "pattern": pattern,
                                "writers": n,
                                "payments_per_s": round(per_s, 1),
                                "p50_ms": round(p50, 2),
                                "p99_ms": round(p99, 2),
                                "retries_per_payment": round(retries, 3),
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
        "SQLite WAL with synchronous=FULL; both on the same disk. `card`: each payment is also a "
        f"Bolt Card tap (each writer taps its own card; {CARDS} cards issued). Retries: write "
        "transactions PostgreSQL had run again (a deadlock, a concurrent insert of one key), per payment.",
        "",
        "| store | pattern | writer processes | payments/s | p50 ms | p99 ms | retries/payment |",
        "|---|---|---:|---:|---:|---:|---:|",
        *(
            f"| {k} | {pat} | {n} | {s:,.0f} | {a:.1f} | {b:.1f} | {r:.3f} |"
            for k, pat, n, s, a, b, r in rows
        ),
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

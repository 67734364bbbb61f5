"""Tap-to-result latency of a payment, and the client's own overhead.

Runs ``--n`` payments (default 1,000) through the real SaleRunner with the simulated NFC reader
(a tap as soon as the readers start) and the journal on disk (WAL, synchronous=FULL), against:

1. the in-process backend (the embedded transport, SQLite ledger in a temporary folder);
2. a real backend server: uvicorn in its own process on 127.0.0.1;
3. the real gateway on loopback: ``cryptopos backend up`` (the gateway in front of uvicorn
   instances of each service, as config/backend.toml describes), stopped with ``backend down``.

Tap-to-result is measured from the moment the runner takes the tap to the journaled result
(the submit, any retries, the journal writes). Then, in the same run, the client's overhead:
``BackendClient.find_by_reference`` (signing, retry bookkeeping, breaker, parsing into the model)
against a bare, equally signed ``httpx`` GET of the same endpoint, interleaved.

    .venv/bin/python bench/pay.py [--n 1000] [--write]

``--write`` replaces the ``bench/pay.py`` section of docs/BENCHMARKS.md with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.client import BackendClient
from terminal.domain import signing
from terminal.domain.money import Money, asset
from terminal.journal import Journal
from terminal.sale import SaleRunner

KEY_ID, SECRET = "t_bench", b"bench-secret-0123456789"
ROOT = Path(__file__).resolve().parents[1]
MARK_BEGIN, MARK_END = "<!-- bench/pay.py begin -->", "<!-- bench/pay.py end -->"

# The listening socket is handed over as a socket object, not as uvicorn's ``fd=``: uvicorn takes an
# fd for a UNIX socket, so asyncio would not set TCP_NODELAY and every answer would wait ~40 ms
# for a delayed ACK (Nagle). Measured here: 44 ms for /healthz with ``fd=``.
SERVER = """
import socket, sys, uvicorn
from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
app = create_app(store=Store(sys.argv[2]), settings=ServiceSettings(keys={sys.argv[3]: sys.argv[4].encode()}))
config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
uvicorn.Server(config).run(sockets=[socket.socket(fileno=int(sys.argv[1]))])
"""


def pct(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"median": statistics.median(values), "p90": q[89], "p99": q[98], "n": len(values)}


def fmt(p: dict[str, float]) -> str:
    return (
        f"median {p['median']:7.2f} ms   p90 {p['p90']:7.2f} ms   p99 {p['p99']:7.2f} ms   (n={p['n']:.0f})"
    )


async def payments(client: BackendClient, journal: Journal, n: int) -> tuple[list[float], dict[str, int]]:
    eur, btc = asset("EUR"), asset("BTC")
    lat: list[float] = []
    statuses: dict[str, int] = {}
    for i in range(n):
        runner = SaleRunner(
            client=client,
            journal=journal,
            terminal_id="t_bench",
            readers=["sim:nfc?delay=0"],
            payment_wait_s=10,
        )
        report = await runner.run(Money(500 + i % 5000, eur), btc)
        statuses[report.status] = statuses.get(report.status, 0) + 1
        if report.status == "approved":
            lat.append(report.timings_ms["total"] - report.timings_ms["to_payment"])
    return lat, statuses


async def overhead(
    client: BackendClient, bare: httpx.AsyncClient, reference: str, n: int
) -> tuple[list[float], list[float]]:
    version = client.api_version or "v2"
    path = f"/payments/{version}/payments?reference={reference}"
    ours: list[float] = []
    plain: list[float] = []

    async def ours_once() -> None:
        t0 = time.perf_counter()
        found = await client.find_by_reference(reference)
        ours.append((time.perf_counter() - t0) * 1000)
        assert found is not None

    async def plain_once() -> None:
        t0 = time.perf_counter()
        headers = signing.signature_headers(
            key_id=KEY_ID,
            secret=SECRET,
            method="GET",
            path=path,
            timestamp=int(time.time()),
            nonce=secrets.token_hex(12),
            body=b"",
        )
        resp = await bare.get(path, headers=headers)
        resp.json()
        plain.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200

    # alternate which goes first, so neither always follows the other (a server's timing
    # rhythm would otherwise favour one of them)
    for i in range(n):
        first, second = (ours_once, plain_once) if i % 2 == 0 else (plain_once, ours_once)
        await first()
        await second()
    return ours, plain


async def run_against(
    name: str, base_url: str, transport: httpx.AsyncBaseTransport | None, n: int, tmp: Path
) -> dict[str, Any]:
    journal = Journal(tmp / f"journal-{name}.sqlite3")
    async with BackendClient(base_url=base_url, key_id=KEY_ID, secret=SECRET, transport=transport) as client:
        # warm up: discovery, imports, connection pool
        await payments(client, journal, 5)
        lat, statuses = await payments(client, journal, n)
        ref = journal.sales(states=("approved",))[-1].reference
        async with httpx.AsyncClient(base_url=base_url, transport=transport) as bare:
            ours, plain = await overhead(client, bare, ref, n)
    journal.close()
    return {
        "latency": pct(lat),
        "statuses": statuses,
        "client": pct(ours),
        "bare": pct(plain),
        "version": client.api_version,
    }


def start_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVER,
            str(sock.fileno()),
            str(tmp / "ledger.sqlite3"),
            KEY_ID,
            SECRET.decode(),
        ],
        pass_fds=[sock.fileno()],
        env=env,
    )
    sock.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("the backend server did not start")
        time.sleep(0.05)


def start_gateway(tmp: Path) -> tuple[Path, str]:
    run_dir = tmp / "gateway"
    env = {
        **os.environ,
        "CRYPTOPOS_SIGNING__KEY_ID": KEY_ID,
        "CRYPTOPOS_SIGNING__SECRET": SECRET.decode(),
    }
    out = subprocess.run(
        [sys.executable, "-m", "terminal", "backend", "up", "--run-dir", str(run_dir), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"cryptopos backend up failed: {out.stderr.strip()}")
    return run_dir, str(json.loads(out.stdout)["gateway"])


def stop_gateway(run_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "terminal", "backend", "down", "--run-dir", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def report_text(n: int, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "## bench/pay.py: tap-to-result latency and client overhead "
        f"({time.strftime('%Y-%m-%d', time.gmtime())})",
        "",
        f"{n} payments per backend with the simulated NFC reader, journal on disk (WAL, synchronous=FULL); "
        f"Python {platform.python_version()}, {os.cpu_count()} cores shared with other work.",
        "",
        "| backend | API | tap-to-result median | p90 | p99 "
        "| client GET median | bare httpx GET median | overhead (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lat, c, b = r["latency"], r["client"], r["bare"]
        lines.append(
            f"| {name} | {r['version']} | {lat['median']:.2f} ms | {lat['p90']:.2f} ms "
            f"| {lat['p99']:.2f} ms | "
            f"{c['median']:.3f} ms | {b['median']:.3f} ms | {c['median'] - b['median']:+.3f} ms |"
        )
    return "\n".join(lines) + "\n"


def write_benchmarks(text: str) -> None:
    path = ROOT / "docs" / "BENCHMARKS.md"
    old = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else "# Benchmarks\n\nFigures printed by the scripts in `bench/`.\n"
    )
    block = f"{MARK_BEGIN}\n{text}{MARK_END}\n"
    if MARK_BEGIN in old and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        new = head + block + rest.split(MARK_END, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="payments per backend (default 1000)")
    ap.add_argument("--write", action="store_true", help="write the figures to docs/BENCHMARKS.md")
    args = ap.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cryptopos-bench-") as tmp_name:
        tmp = Path(tmp_name)
        store = Store(tmp / "inproc-ledger.sqlite3")
        app = create_app(store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}))
        print(f"in-process backend: {args.n} payments ...", flush=True)
        results["in-process"] = asyncio.run(
            run_against("inproc", "http://embedded.invalid", InProcessTransport(app), args.n, tmp)
        )
        store.close()
        proc, url = start_server(tmp)
        try:
            print(f"uvicorn on {url}: {args.n} payments ...", flush=True)
            results["uvicorn on loopback"] = asyncio.run(run_against("loopback", url, None, args.n, tmp))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        run_dir, gateway = start_gateway(tmp)
        try:
            print(f"gateway on {gateway}: {args.n} payments ...", flush=True)
            results["gateway on loopback"] = asyncio.run(run_against("gateway", gateway, None, args.n, tmp))
        finally:
            stop_gateway(run_dir)
    for name, r in results.items():
        print(f"\n{name} (API {r['version']}), statuses {r['statuses']}")
        print(f"  tap-to-result      {fmt(r['latency'])}")
        print(f"  client GET         {fmt(r['client'])}")
        print(f"  bare httpx GET     {fmt(r['bare'])}")
        print(f"  client overhead    median {r['client']['median'] - r['bare']['median']:+.3f} ms")
    text = report_text(args.n, results)
    if args.write:
        write_benchmarks(text)
        print("\nwritten to docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()

"""Backend platform figures: gateway throughput and added latency versus calling an instance
directly (in-process and over loopback with real uvicorn processes), and a rollout timeline
(weight, success rate, p99 per analysis interval) for a healthy and a bad canary.

    .venv/bin/python bench/backend.py            # print
    .venv/bin/python bench/backend.py --write    # also replace the section in docs/BENCHMARKS.md
    .venv/bin/python bench/backend.py --quick    # fewer requests
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend_stub.cluster import ManualClock  # noqa: E402
from backend_stub.deployment import Deployment  # noqa: E402
from backend_stub.settings import ServiceSettings  # noqa: E402
from backend_stub.topology import parse_topology  # noqa: E402
from backend_stub.transport import InProcessTransport  # noqa: E402

KEY_ID, SECRET = "bench", b"b" * 32
PATH = "/payments/v1/payments/none"  # the app authenticates and answers 401: a real, cheap request

TOPOLOGY: dict[str, Any] = {
    "time_scale": 60.0,
    "autoscale": {"scale_down_stabilization_s": 100000.0},
    # the timeline's one key plays a whole shop (~100 payments/s); the default limit is per till
    "limits": {"rate_per_key": 100000.0, "burst_per_key": 100000},
    "services": {
        "rates": {"stable": "1.0.0", "replicas": 2, "builds": {"1.0.0": {}}},
        "payments": {
            "stable": "1.4.0",
            "replicas": 3,
            "builds": {"1.4.0": {}, "1.5.0": {}, "1.5.1-bad": {"faults": {"error_rate": 0.2}}},
        },
    },
}


def shipped_plan() -> Any:
    """config/rollouts/payments.yaml, the success-rate analysis only: its p99 <= 250 ms is a
    production threshold that SQLite's fsync stalls on a busy two-core machine exceed."""
    import dataclasses

    from backend_stub.rollout.plan import load_plan

    plan = load_plan(ROOT / "config/rollouts/payments.yaml")
    assert plan.analysis is not None
    kept = tuple(m for m in plan.analysis.metrics if m.name == "success-rate")
    return dataclasses.replace(plan, analysis=dataclasses.replace(plan.analysis, metrics=kept))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


async def measure(client: httpx.AsyncClient, url: str, *, n: int, concurrency: int) -> dict[str, float]:
    """Sequential latency (p50/p99 ms) and concurrent throughput (req/s)."""
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        await client.get(url)
        lat.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    for _ in range(n // concurrency):
        await asyncio.gather(*(client.get(url) for _ in range(concurrency)))
    rps = (n // concurrency) * concurrency / (time.perf_counter() - t0)
    return {"p50_ms": statistics.median(lat), "p99_ms": pct(lat, 99), "rps": rps}


async def in_process(n: int) -> dict[str, dict[str, float]]:
    d = Deployment.in_process(
        parse_topology(TOPOLOGY), settings=ServiceSettings(keys={KEY_ID: SECRET}), clock=ManualClock()
    )
    await d.start()
    inst = d.cluster.pool("payments").instances[0]
    direct = await measure(inst.client, PATH, n=n, concurrency=20)
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://gw") as c:
        via = await measure(c, PATH, n=n, concurrency=20)
    await d.aclose()
    return {"direct": direct, "gateway": via}


async def real_processes(n: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="cryptopos-bench-") as tmp:
        topo = Path(tmp) / "backend.toml"
        topo.write_text(
            "time_scale = 60.0\n[autoscale]\nscale_down_stabilization_s = 100000.0\n"
            '[services.rates]\nstable = "1.0.0"\nreplicas = 1\n[services.rates.builds."1.0.0"]\n'
            '[services.payments]\nstable = "1.4.0"\nreplicas = 1\n[services.payments.builds."1.4.0"]\n'
        )
        run = Path(tmp) / "run"
        log = (Path(tmp) / "supervisor.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend_stub.supervisor", "--run-dir", str(run), "--topology", str(topo)],
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while not (run / "state.json").exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the supervisor did not start")
                await asyncio.sleep(0.1)
            gateway = json.loads((run / "state.json").read_text())["gateway"]
            async with httpx.AsyncClient(timeout=10) as c:
                status = (await c.get(gateway + "/_platform/status")).json()
                instance = status["services"]["payments"]["instances"][0]["url"]
                direct = await measure(c, instance + PATH, n=n, concurrency=20)
                via = await measure(c, gateway + PATH, n=n, concurrency=20)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            log.close()
    return {"direct": direct, "gateway": via}


async def timeline(build: str, *, rate: float, max_s: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from terminal.client import BackendClient, BackendError
    from terminal.domain.money import Money, asset

    d = Deployment.in_process(
        parse_topology(TOPOLOGY), settings=ServiceSettings(keys={KEY_ID: SECRET}), clock=ManualClock()
    )
    assert d.store is not None
    await d.start()
    client = BackendClient(
        base_url="http://gw", key_id=KEY_ID, secret=SECRET, transport=InProcessTransport(d.gateway)
    )
    outcome = {"ok": 0, "failed": 0}

    async def pay(i: int) -> None:
        try:
            q = await client.quote(Money.parse("9.99", "EUR"), asset("BTC"))
            await client.create_payment(quote=q, reference=f"b{i}", payload="tap", idempotency_key=f"k{i}")
            outcome["ok"] += 1
        except BackendError:
            outcome["failed"] += 1

    loop = asyncio.get_running_loop()
    ro = await d.rollouts.deploy("payments", build, shipped_plan())
    started = d.clock.now()
    # the cluster clock moves 1/rate per payment started (as tests/platform/test_rollout.py does):
    # every analysis window then holds the traffic it would at that rate, even when a busy
    # machine delivers fewer payments per real second or stalls the loop for a while
    t0 = loop.time()
    tasks = []
    i = 0
    while d.clock.now() - started < max_s and ro.phase.value in ("Progressing", "Paused"):
        tasks.append(asyncio.ensure_future(pay(i)))
        i += 1
        await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))
        if i % 5 == 0:
            await d.tick(5 / rate)
    await asyncio.gather(*tasks)
    await client.aclose()
    summary = {
        "phase": ro.phase.value,
        "message": ro.message,
        "payments_ok": outcome["ok"],
        "payments_failed": outcome["failed"],
        "charges": d.store.count("payments"),
        "retries": d.gateway.retries,
    }
    await d.aclose()
    return ro.timeline, summary


def fmt_pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:5.1f}%"


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:6.1f}"


def report(args: argparse.Namespace) -> str:
    n = 300 if args.quick else 2000
    out = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the start; "
        f"{n} sequential requests for latency, then {n} in batches of 20 for throughput; "
        f"request: GET {PATH} (signature check, 401). In-process the gateway knows the terminals' "
        "keys and refuses it itself (the edge's precheck); the loopback processes here run without "
        "keys.json, so it is forwarded. Full sales: bench/load.py",
        "",
        "| path | mode | p50 ms | p99 ms | req/s | added p50 ms |",
        "|---|---|---|---|---|---|",
    ]
    for mode, fig in (
        ("in-process", asyncio.run(in_process(n))),
        ("uvicorn on loopback", asyncio.run(real_processes(n))),
    ):
        for path in ("direct", "gateway"):
            f = fig[path]
            added = f["p50_ms"] - fig["direct"]["p50_ms"] if path == "gateway" else 0.0
            out.append(
                f"| {path} | {mode} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['rps']:.0f} | "
                f"{'' if path == 'direct' else f'{added:+.2f}'} |"
            )
    for build, label in (("1.5.0", "healthy canary 1.5.0"), ("1.5.1-bad", "bad canary 1.5.1-bad (20% 503)")):
        rows, summary = asyncio.run(timeline(build, rate=100, max_s=10 if args.quick else 20))
        out += [
            "",
            f"Rollout timeline, {label}: 100 payments/s of cluster time from the terminal's client, "
            "the shipped plan's success-rate analysis (every 30 plan s, over 1m of scrapes every 15 plan s), "
            "time scale 60",
            "",
            "| t s | step | weight % | measured | measurement | canary req | canary success | canary p99 ms "
            "| stable success | stable p99 ms |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            c, s = r["canary"], r["stable"]
            out.append(
                f"| {r['t']:.2f} | {r['step']} | {r['weight']} | {r['value'] or '-'} | {r['measurement']} | "
                f"{c['requests']} | "
                f"{fmt_pct(c['success_rate'])} | {fmt_ms(c['p99_ms'])} | {fmt_pct(s['success_rate'])} | "
                f"{fmt_ms(s['p99_ms'])} |"
            )
        out.append("")
        out.append(
            f"Result: {summary['phase']} ({summary['message']}); payments ok {summary['payments_ok']}, "
            f"failed {summary['payments_failed']}, charges in the ledger {summary['charges']}, "
            f"gateway retries {summary['retries']}"
        )
    return "\n".join(out)


def write(section: str) -> None:
    path = ROOT / "docs" / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = "<!-- bench/backend.py -->", "<!-- /bench/backend.py -->"
    block = f"{start}\n## Backend platform (bench/backend.py)\n\n{section}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--write", action="store_true", help="replace this bench's section of docs/BENCHMARKS.md")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    section = report(args)
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()

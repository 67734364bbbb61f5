"""Full sales under load: payments per second, latency, CPU per payment in every process.

Many simulated terminals, each with its own key, do what a till does: a v2 quote, then a v2
payment with an ``Idempotency-Key`` (a scripted card approval), an occasional status inquiry
by reference; one sale in ten is a merchant-presented invoice instead, polled until the
(simulated) wallet has paid it. They run against

- ``direct``: one rates and one payments instance (uvicorn processes), no gateway;
- ``gw1``, ``gw2``: the process-mode gateway (``python -m backend_stub.supervisor``) in front of
  1 or 2 instances of each service,

on one ledger per run: ``--store sqlite`` (in the run directory) or ``--store postgres`` (a fresh
database per run on a pgserver PostgreSQL 16 started here).

For each: the saturation throughput (closed loop, ``--concurrency`` sales in flight), then an
open-loop Poisson arrival rate of 50% and 80% of it (latency measured from each sale's
scheduled start, so a stall is not hidden by the generator waiting), the unloaded latency of
each request (sequential sales), and the CPU time per payment of every process (gateway,
instances, the generator itself) from ``/proc/PID/stat``. Bounded in time (``--seconds`` per
phase) and count (``--max-sales`` per phase); loopback only.

    .venv/bin/python bench/load.py                 # all modes, print
    .venv/bin/python bench/load.py --quick         # shorter phases
    .venv/bin/python bench/load.py --write         # also replace the section in docs/BENCHMARKS.md
    .venv/bin/python bench/load.py --modes gw1 --profile gateway   # py-spy the gateway while saturated
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend_stub.http1 import ConnectionPool, UpstreamError  # noqa: E402
from terminal.domain import signing  # noqa: E402

MARK_BEGIN, MARK_END = "<!-- bench/load.py begin -->", "<!-- bench/load.py end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")
INVOICE_SHARE = 0.1  # merchant-presented sales among all sales
INQUIRY_SHARE = 0.05  # card sales followed by a status inquiry by reference
INVOICE_POLLS = 2  # polls before the wallet pays, then one that sees it paid
REQUEST_TIMEOUT_S = 30.0
SHED_RETRIES = 3


# -- terminals ---------------------------------------------------------------------------


def terminal_keys(n: int) -> dict[str, bytes]:
    """The simulated terminals' key ids and HMAC secrets (deterministic, so workers agree)."""
    return {f"t_load_{i:05d}": f"load-secret-{i:05d}-0123456789abcdef".encode() for i in range(n)}


def provision_terminals(run_dir: Path, keys: dict[str, bytes]) -> None:
    """Make the backend trust ``keys``: the supervisor moves ``keys.json`` from the run
    directory into the ledger's terminals table at start (what ``cryptopos backend up`` does
    with the terminal's configured key)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / "keys.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({k: v.hex() for k, v in keys.items()}, f)


class Ledgers:
    """Where each backend run keeps its ledger: SQLite in the run directory, or a fresh
    database per run on one PostgreSQL server (pgserver's, in a temporary folder, with its
    defaults: fsync and synchronous_commit on), started here and removed at the end."""

    def __init__(self, kind: str, where: Path) -> None:
        self.kind, self.where, self.server, self.runs = kind, where, None, 0
        if kind == "postgres":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from pgserver import postgres_server
            self.server = postgres_server.get_server(where / "pg", cleanup_mode="delete")

    def env(self) -> dict[str, str]:
        """The supervisor's environment: CRYPTOPOS_STORE_URL names a fresh database."""
        env = dict(os.environ)
        if self.server is None:
            env.pop("CRYPTOPOS_STORE_URL", None)
            return env
        import psycopg

        self.runs += 1
        name = f"load_{os.getpid()}_{self.runs}"
        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        env["CRYPTOPOS_STORE_URL"] = str(self.server.get_uri(name))
        return env

    def close(self) -> None:
        if self.server is not None:
            self.server.cleanup()


# -- the backend -------------------------------------------------------------------------

TOPOLOGY = """time_scale = 60.0
[gateway]
per_try_timeout_s = 10.0
[autoscale]
scale_down_stabilization_s = 100000.0
{limits}
[services.rates]
stable = "1.0.0"
replicas = {n}
min_replicas = {n}
max_replicas = {n}
target_rps_per_instance = 100000.0
[services.rates.builds."1.0.0"]
[services.payments]
stable = "1.4.0"
replicas = {n}
min_replicas = {n}
max_replicas = {n}
target_rps_per_instance = 100000.0
[services.payments.builds."1.4.0"]
"""


@dataclass
class Backend:
    proc: subprocess.Popen[bytes]
    run_dir: Path
    gateway: str
    instances: dict[str, list[str]]  # service -> URLs

    def pids(self) -> dict[str, int]:
        """The gateway (the supervisor's process) and each instance, as the status lists them."""
        import httpx

        status = httpx.get(self.gateway + "/_platform/status", timeout=10).json()
        out = {"gateway": self.proc.pid}
        for service, body in status["services"].items():
            for n, inst in enumerate(body["instances"], 1):
                out[f"{service}-{n}"] = int(inst["pid"])
        return out


def start_backend(
    tmp: Path, *, replicas: int, keys: dict[str, bytes], limits: str, env: dict[str, str] | None = None
) -> Backend:
    run_dir = tmp / f"run-{replicas}-{time.monotonic_ns()}"
    provision_terminals(run_dir, keys)
    topo = run_dir / "backend.toml"
    topo.write_text(TOPOLOGY.format(n=replicas, limits=limits))
    log = (run_dir / "supervisor.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend_stub.supervisor", "--run-dir", str(run_dir), "--topology", str(topo)],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        env=env,
    )
    log.close()
    deadline = time.monotonic() + 60
    while not (run_dir / "state.json").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"the supervisor did not start; see {run_dir / 'supervisor.log'}")
        time.sleep(0.1)
    gateway = json.loads((run_dir / "state.json").read_text())["gateway"]
    import httpx

    while True:  # every instance ready (a busy machine may need another readiness check)
        status = httpx.get(gateway + "/_platform/status", timeout=10).json()
        instances = {
            svc: [i["url"] for i in body["instances"] if i["state"] == "ready"]
            for svc, body in status["services"].items()
        }
        if all(len(urls) == replicas for urls in instances.values()):
            return Backend(proc, run_dir, gateway, instances)
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"instances not ready in time: {status}")
        time.sleep(0.1)


def stop_backend(b: Backend) -> None:
    b.proc.send_signal(signal.SIGTERM)
    try:
        b.proc.wait(30)
    except subprocess.TimeoutExpired:
        b.proc.kill()
        b.proc.wait(10)


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- the generator (runs in worker processes) ---------------------------------------------


@dataclass
class PhaseStats:
    sales: int = 0
    sale_ms: list[float] = field(default_factory=list)
    request_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    overflow: int = 0  # open loop: arrivals dropped because too many sales were in flight
    shed: dict[str, int] = field(default_factory=dict)  # 503 shed / 429 answers, sent again
    cpu_ticks: int = 0
    seconds: float = 0.0


class Till:
    """The generator's side of the wire: signed requests on pooled keep-alive connections."""

    def __init__(self, *, targets: dict[str, str], keys: dict[str, bytes], worker: int, seed: int) -> None:
        self.pools: dict[str, ConnectionPool] = {}
        self._urls = targets
        self.keys = list(keys.items())
        self.worker = worker
        self.seq = 0
        self.rng = random.Random(seed)

    def pool(self, service: str) -> ConnectionPool:
        found = self.pools.get(service)
        if found is None:
            host, port = self._urls[service].removeprefix("http://").split(":")
            found = self.pools[service] = ConnectionPool(host, int(port), max_idle=4096, idle_s=2.0)
        return found

    async def call(
        self, stats: PhaseStats, kind: str, key: tuple[str, bytes], method: str, target: str, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        """One request as a till sends it; a shed answer (503 + X-Cp-Shed: nothing was done) is
        sent again after its Retry-After, as the terminal's client does, up to SHED_RETRIES times
        (with the same Idempotency-Key for a write)."""
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        self.seq += 1
        idem = f"idem-w{self.worker}-{self.seq}-{time.monotonic_ns()}".encode()
        service = target.split("/", 2)[1]
        for attempt in range(SHED_RETRIES + 1):
            self.seq += 1
            nonce = f"w{self.worker}-{self.seq}-{time.monotonic_ns()}"
            ts = int(time.time())
            headers = [
                (b"x-cp-key-id", key[0].encode()),
                (b"x-cp-timestamp", str(ts).encode()),
                (b"x-cp-nonce", nonce.encode()),
                (b"x-cp-signature", signing.sign(key[1], method, target, ts, nonce, raw).encode()),
            ]
            if body is not None:
                headers.append((b"content-type", b"application/json"))
            if kind in ("payment", "invoice"):
                headers.append((b"idempotency-key", idem))
            t0 = time.perf_counter()
            resp = await self.pool(service).request(
                method, target.encode(), headers, raw, timeout=REQUEST_TIMEOUT_S
            )
            stats.request_ms.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
            if resp.status in (429, 503) and attempt < SHED_RETRIES:
                shed = any(k == b"x-cp-shed" for k, _ in resp.headers)
                if shed or resp.status == 429:
                    stats.shed[kind] = stats.shed.get(kind, 0) + 1
                    after = next((v for k, v in resp.headers if k == b"retry-after"), b"1")
                    await asyncio.sleep(float(after) if after.isdigit() else 1.0)
                    continue
            break
        return resp.status, json.loads(resp.body) if resp.body else {}

    async def sale(self, stats: PhaseStats) -> bool:
        key = self.keys[self.rng.randrange(len(self.keys))]
        self.seq += 1
        ref = f"r{self.worker}-{self.seq}-{time.monotonic_ns()}"
        invoice = self.rng.random() < INVOICE_SHARE
        amount = 500 + self.rng.randrange(5000)
        if amount in (4002, 4003, 4004, 4005, 4008, 4009):  # the test mode's magic amounts
            amount += 10
        try:
            st, q = await self.call(
                stats,
                "quote",
                key,
                "POST",
                "/rates/v2/quotes",
                {"fiat_minor": amount, "fiat_currency": "EUR", "asset": "BTC"},
            )
            if st != 201:
                return _error(stats, f"quote {st} {q.get('type', '')}")
            if not invoice:
                st, p = await self.call(
                    stats,
                    "payment",
                    key,
                    "POST",
                    "/payments/v2/payments",
                    {
                        "quote_id": q["quote_id"],
                        "reference": ref,
                        "asset": "BTC",
                        "amount_minor": q["crypto_minor"],
                        "payload": "cryptopos-test:card:approve",
                    },
                )
                if st != 201 or p.get("status") != "approved":
                    return _error(stats, f"payment {st} {p.get('type', p.get('status'))}")
                if self.rng.random() < INQUIRY_SHARE:
                    st, found = await self.call(
                        stats, "inquiry", key, "GET", f"/payments/v2/payments?reference={ref}"
                    )
                    if st != 200 or not found.get("items"):
                        return _error(stats, f"inquiry {st}")
                return True
            st, inv = await self.call(
                stats,
                "invoice",
                key,
                "POST",
                "/payments/v2/invoices",
                {"quote_id": q["quote_id"], "reference": ref, "kind": "bip21"},
            )
            if st != 201:
                return _error(stats, f"invoice {st} {inv.get('type', '')}")
            path = f"/payments/v2/invoices/{inv['invoice_id']}"
            for _ in range(INVOICE_POLLS):
                st, _doc = await self.call(stats, "poll", key, "GET", path)
                if st != 200:
                    return _error(stats, f"poll {st}")
            st, _doc = await self.call(
                stats, "simulate", key, "POST", path + "/simulate", {"amount_minor": inv["amount_minor"]}
            )
            if st != 200:
                return _error(stats, f"simulate {st}")
            st, doc = await self.call(stats, "poll", key, "GET", path)
            if st != 200 or doc.get("status") != "paid":
                return _error(stats, f"poll {st} {doc.get('status')}")
            return True
        except (UpstreamError, KeyError, ValueError) as exc:
            return _error(stats, type(exc).__name__)

    async def aclose(self) -> None:
        for p in self.pools.values():
            await p.aclose()


def _error(stats: PhaseStats, what: str) -> bool:
    stats.errors[what] = stats.errors.get(what, 0) + 1
    return False


async def _timed_sale(till: Till, stats: PhaseStats, start: float) -> None:
    if await till.sale(stats):
        stats.sales += 1
        stats.sale_ms.append((time.perf_counter() - start) * 1000)


async def closed_loop(till: Till, *, concurrency: int, seconds: float, max_sales: int) -> PhaseStats:
    stats = PhaseStats()
    deadline = time.perf_counter() + seconds
    started = 0

    async def lane() -> None:
        nonlocal started
        while time.perf_counter() < deadline and started < max_sales:
            started += 1
            await _timed_sale(till, stats, time.perf_counter())

    t0 = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    stats.seconds = time.perf_counter() - t0
    return stats


async def open_loop(
    till: Till, *, rate: float, seconds: float, max_sales: int, max_in_flight: int
) -> PhaseStats:
    """Poisson arrivals at ``rate`` per second; latency counted from the scheduled start."""
    stats = PhaseStats()
    rng = random.Random(till.worker * 7919 + 1)
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    at = t0
    n = 0
    while n < max_sales:
        at += rng.expovariate(rate)
        if at - t0 > seconds:
            break
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        n += 1
        if len(tasks) >= max_in_flight:
            stats.overflow += 1
            continue
        task = asyncio.ensure_future(_timed_sale(till, stats, at))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    stats.seconds = time.perf_counter() - t0
    return stats


async def hops(n: int, targets: dict[str, str]) -> PhaseStats:
    """One request at a time, a public GET that touches no database (``/rates/v2/keys``), to
    each target in turn (``via``: through the gateway, ``direct``: to the rates instance behind
    it): the cost of the hop itself, paired in time, so a busy machine weighs on both alike."""
    stats = PhaseStats()
    pools = {name: ConnectionPool(*_host_port(url)) for name, url in targets.items()}
    t_start = time.perf_counter()
    try:
        for _ in range(n):
            for name, pool in pools.items():
                t0 = time.perf_counter()
                resp = await pool.request("GET", b"/rates/v2/keys", [], timeout=REQUEST_TIMEOUT_S)
                stats.request_ms.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
                if resp.status != 200:
                    _error(stats, f"hop {resp.status}")
    finally:
        for pool in pools.values():
            await pool.aclose()
    stats.seconds = time.perf_counter() - t_start
    return stats


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def worker_main(conn: Connection, worker: int, targets: dict[str, str], n_keys: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def run() -> None:
        till = Till(targets=targets, keys=terminal_keys(n_keys), worker=worker, seed=worker)
        loop = asyncio.get_running_loop()
        try:
            while True:
                cmd = await loop.run_in_executor(None, conn.recv)
                if cmd[0] == "stop":
                    break
                if cmd[0] == "targets":
                    await till.aclose()
                    till = Till(targets=cmd[1], keys=terminal_keys(n_keys), worker=worker, seed=worker)
                    conn.send(None)
                    continue
                c0 = cpu_ticks(os.getpid())
                if cmd[0] == "hop":
                    stats = await hops(cmd[1], cmd[2])
                elif cmd[0] == "closed":
                    stats = await closed_loop(till, concurrency=cmd[1], seconds=cmd[2], max_sales=cmd[3])
                else:
                    stats = await open_loop(
                        till, rate=cmd[1], seconds=cmd[2], max_sales=cmd[3], max_in_flight=cmd[4]
                    )
                stats.cpu_ticks = cpu_ticks(os.getpid()) - c0
                conn.send(stats)
        finally:
            await till.aclose()

    asyncio.run(run())


class Generator:
    def __init__(self, workers: int, targets: dict[str, str], n_keys: int) -> None:
        ctx = mp.get_context("fork")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for w in range(workers):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(child, w, targets, n_keys), daemon=True)
            p.start()
            self.conns.append(parent)
            self.procs.append(p)

    def retarget(self, targets: dict[str, str]) -> None:
        for c in self.conns:
            c.send(("targets", targets))
        for c in self.conns:
            c.recv()

    def run_one(self, *cmd: Any) -> PhaseStats:
        """On the first worker only (sequential measurements)."""
        self.conns[0].send(cmd)
        stats: PhaseStats = self.conns[0].recv()
        return stats

    def run(self, *cmd: Any) -> PhaseStats:
        for c in self.conns:
            c.send(cmd)
        merged = PhaseStats()
        for c in self.conns:
            s: PhaseStats = c.recv()
            merged.sales += s.sales
            merged.sale_ms += s.sale_ms
            for k, v in s.request_ms.items():
                merged.request_ms.setdefault(k, []).extend(v)
            for k2, n in s.errors.items():
                merged.errors[k2] = merged.errors.get(k2, 0) + n
            merged.overflow += s.overflow
            for k3, n3 in s.shed.items():
                merged.shed[k3] = merged.shed.get(k3, 0) + n3
            merged.cpu_ticks += s.cpu_ticks
            merged.seconds = max(merged.seconds, s.seconds)
        return merged

    def close(self) -> None:
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.send(("stop",))
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()


# -- measuring -----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


@dataclass
class ModeResult:
    mode: str
    saturation: float = 0.0
    sat_errors: dict[str, int] = field(default_factory=dict)
    shed: dict[str, int] = field(default_factory=dict)  # by phase and request kind
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per payment, by process
    rss_mib: dict[str, float] = field(default_factory=dict)
    unloaded_ms: dict[str, float] = field(default_factory=dict)  # p50 per request kind
    hop_ms: dict[str, tuple[float, float]] = field(default_factory=dict)  # direct / via: (p50, p99)
    loaded: dict[int, dict[str, float]] = field(default_factory=dict)  # 50/80 -> figures
    load_before: str = ""
    load_after: str = ""


def run_mode(
    mode: str, gen: Generator, backend: Backend, args: argparse.Namespace, profile: str | None
) -> ModeResult:
    if mode == "direct":
        targets = {svc: urls[0] for svc, urls in backend.instances.items()}
    else:
        targets = {"rates": backend.gateway, "payments": backend.gateway}
    gen.retarget(targets)
    res = ModeResult(mode, load_before=loadavg())
    per = args.seconds
    gen.run("closed", 8, 1.0, 10**9)  # warm up: connections, imports, the ledger's pages
    # unloaded: one sale at a time on one worker's lane
    seq = gen.run("closed", 1, min(per, 3.0), 400 // len(gen.conns) + 1)
    res.unloaded_ms = {k: pct(v, 50) for k, v in seq.request_ms.items()}
    res.unloaded_ms["sale"] = pct(seq.sale_ms, 50)
    pair = {"direct": backend.instances["rates"][0]}
    if mode != "direct":
        pair["via"] = backend.gateway
    hop = gen.run_one("hop", 500, pair)
    for name, lat in hop.request_ms.items():
        res.hop_ms[name] = (pct(lat, 50), pct(lat, 99))
    pids = backend.pids()
    if mode == "direct":
        pids.pop("gateway")
    before = {name: cpu_ticks(pid) for name, pid in pids.items()}
    spy = _start_profile(profile, pids, args) if profile else None
    sat = gen.run("closed", args.concurrency, per, args.max_sales)
    if spy is not None:
        _stop_profile(spy)
    after = {name: cpu_ticks(pid) for name, pid in pids.items()}
    res.saturation = sat.sales / sat.seconds if sat.seconds else 0.0
    res.sat_errors = sat.errors
    res.shed = {f"saturation {k}": n for k, n in sat.shed.items()}
    done = max(sat.sales, 1)
    for name in pids:
        res.cpu_ms[name] = (after[name] - before[name]) / CLK_TCK * 1000 / done
    res.cpu_ms["generator"] = sat.cpu_ticks / CLK_TCK * 1000 / done
    res.rss_mib = {name: rss_kib(pid) / 1024 for name, pid in pids.items()}
    for share in (50, 80):
        rate = res.saturation * share / 100
        s = gen.run("open", rate / len(gen.conns), per, args.max_sales, args.max_in_flight)
        fig = {
            "offered": rate,
            "achieved": s.sales / s.seconds if s.seconds else 0.0,
            "p50": pct(s.sale_ms, 50),
            "p99": pct(s.sale_ms, 99),
            "errors": float(sum(s.errors.values())),
            "overflow": float(s.overflow),
        }
        for kind in ("quote", "payment"):
            fig[f"{kind}_p50"] = pct(s.request_ms.get(kind, []), 50)
            fig[f"{kind}_p99"] = pct(s.request_ms.get(kind, []), 99)
        res.loaded[share] = fig
        for k, n in s.errors.items():
            res.sat_errors[f"{share}%: {k}"] = n
        for k, n in s.shed.items():
            res.shed[f"{share}% {k}"] = n
    res.load_after = loadavg()
    return res


def _start_profile(
    which: str, pids: dict[str, int], args: argparse.Namespace
) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    pid = pids.get(which) or pids.get(f"{which}-1")
    if pid is None:
        print(f"profile: no process {which!r}; processes: {', '.join(pids)}")
        return None
    out = Path(args.profile_out or f"profile-{which}.txt")
    print(f"profile: py-spy on {which} (pid {pid}) -> {out}")
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--output",
            str(out),
            "--duration",
            str(int(args.seconds)),
            "--rate",
            "200",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_profile(p: subprocess.Popen[bytes]) -> None:
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.terminate()


# -- the ledger alone: what store-level changes would buy ----------------------------------

LEDGER_PATTERNS = (
    # (name, commits per sale, sales per commit): the same statements, grouped differently
    ("before the store: 5 commits per sale (nonce + quote; nonce + idempotency claim + payment)", 5, 1),
    ("today: nonces in the replay cache (no fsync), 3 commits (quote; claim; payment)", 3, 1),
    ("and the idempotency claim in the payment's transaction: 2 commits", 2, 1),
    ("and group commit, 8 sales per fsync (one writer batching)", 2, 8),
)


_NONCE_SQL = "INSERT INTO nonces (scope, nonce, seen_at, keep_until, digest) VALUES (?, ?, ?, ?, ?)"
_QUOTE_SQL = (
    "INSERT INTO quotes (quote_id, terminal_id, fiat_minor, fiat_currency, asset, crypto_minor, rate, "
    "spread_bps, fee_minor, issued_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CLAIM_SQL = (
    "INSERT INTO idempotency (scope, key, fingerprint, state, started_at) VALUES (?, ?, ?, 'in_flight', ?)"
)
_SEQ_SQL = (
    "INSERT INTO counters (name, value) VALUES ('payments', 1) "
    "ON CONFLICT (name) DO UPDATE SET value = value + 1"
)
_PAYMENT_SQL = (
    "INSERT INTO payments (payment_id, terminal_id, reference, quote_id, method, asset, amount_minor, "
    "fiat_minor, fiat_currency, status, reason, created_at, updated_at, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DONE_SQL = "UPDATE idempotency SET state = 'done', status_code = 201, body = ? WHERE scope = ? AND key = ?"
Tx = list[tuple[str, tuple[Any, ...]]]


def _sale_transactions(i: int, commits: int) -> list[Tx]:
    """One card sale's writes, in today's five transactions or regrouped into fewer."""
    now = time.time()
    q = f"q{i}"
    payment = (f"pay{i}", "t", f"r{i}", q, "card", "BTC", "14087", 1250, "EUR", "approved", None, now, now, i)
    nonce_q: Tx = [(_NONCE_SQL, ("terminal:t", f"nq{i}", now, now + 300, "d" * 64))]
    quote: Tx = [
        (_QUOTE_SQL, (q, "t", 1250, "EUR", "BTC", "14087", "88735.0230", 100, 7, now, now + 60, "{}" * 200))
    ]
    nonce_p: Tx = [(_NONCE_SQL, ("terminal:t", f"np{i}", now, now + 300, "d" * 64))]
    claim: Tx = [(_CLAIM_SQL, ("terminal:t", f"k{i}", "f" * 64, now))]
    work: Tx = [(_SEQ_SQL, ()), (_PAYMENT_SQL, payment), (_DONE_SQL, ("{}" * 150, "terminal:t", f"k{i}"))]
    if commits == 5:
        return [nonce_q, quote, nonce_p, claim, work]
    if commits == 3:  # the nonces live elsewhere (memory, a cache)
        return [quote, claim, work]
    return [quote, claim + work]


def ledger_ceiling(directory: Path, seconds: float) -> list[tuple[str, float, float]]:
    """Sales per second the ledger's write pattern allows with one writer and nothing else
    (no HTTP, no Python web stack), for today's grouping of a sale's writes into fsync'd
    commits and for the groupings a store change could make. Same statements every time; the
    schema is the real store's. Returns (pattern, sales/s, ms per commit)."""
    import sqlite3

    from backend_stub.store import Store

    out = []
    for name, commits, per_commit in LEDGER_PATTERNS:
        path = directory / f"ledger-{commits}-{per_commit}.sqlite3"
        Store(path).close()  # the schema
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        n = sales = fsyncs = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            batch = [_sale_transactions(n + j, commits) for j in range(per_commit)]
            n += per_commit
            for k in range(commits):
                db.execute("BEGIN IMMEDIATE")
                for sale in batch:
                    for sql, params in sale[k]:
                        db.execute(sql, params)
                db.execute("COMMIT")
                fsyncs += 1
            sales += per_commit
        elapsed = time.perf_counter() - t0
        db.close()
        out.append((name, sales / elapsed, elapsed / fsyncs * 1000))
    return out


# -- report --------------------------------------------------------------------------------


def fmt(v: float, nd: int = 1) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{nd}f}"


def report(
    results: list[ModeResult], args: argparse.Namespace, ledger: list[tuple[str, float, float]] | None = None
) -> str:
    by = {r.mode: r for r in results}
    lines = [
        f"{time.strftime('%Y-%m-%d')}; {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; store {args.store} "
        f"({'in ' + args.ledger_dir if args.ledger_dir else 'on disk'}, fsync per commit); "
        f"{args.terminals} terminals (one key each); "
        f"generator: {args.workers} process(es), closed loop of {args.concurrency} sales for saturation, "
        f"open-loop Poisson arrivals at 50% / 80% of it; {args.seconds:g} s per phase. A sale: v2 quote + "
        f"v2 payment (Idempotency-Key), {INQUIRY_SHARE:.0%} followed by an inquiry; {INVOICE_SHARE:.0%} "
        f"are invoices instead (create, {INVOICE_POLLS} polls, wallet pays, a poll sees it paid).",
        "",
        "| mode | payments/s at saturation | p50 / p99 ms at 50% | p50 / p99 ms at 80% "
        "| errors | load average (1/5/15 min) before -> after |",
        "|---|---:|---|---|---|---|",
    ]
    for r in results:
        l50, l80 = r.loaded.get(50, {}), r.loaded.get(80, {})
        errs = sum(r.sat_errors.values())
        lines.append(
            f"| {r.mode} | {fmt(r.saturation, 0)} | {fmt(l50.get('p50', math.nan))} / "
            f"{fmt(l50.get('p99', math.nan))} | {fmt(l80.get('p50', math.nan))} / "
            f"{fmt(l80.get('p99', math.nan))} | {errs} | {r.load_before} -> {r.load_after} |"
        )
    lines += ["", "CPU time per payment (ms; at saturation, from /proc/PID/stat; RSS at the end):", ""]
    lines += [
        "| mode | " + " | ".join(["process", "CPU ms / payment", "RSS MiB"]) + " |",
        "|---|---|---:|---:|",
    ]
    for r in results:
        for name, ms in r.cpu_ms.items():
            rss = r.rss_mib.get(name)
            lines.append(f"| {r.mode} | {name} | {ms:.2f} | {'' if rss is None else f'{rss:.0f}'} |")
        lines.append(f"| {r.mode} | **all** | **{sum(r.cpu_ms.values()):.2f}** | |")
    direct = by.get("direct")
    if direct is not None:
        lines += [
            "",
            "The gateway's added latency. The hop: 500 sequential GET /rates/v2/keys (public, no "
            "database) through the gateway and straight to the rates instance behind it, alternating, "
            "so both see the same machine; added = p50 (p99) via minus direct. Then a sale's requests, "
            "gateway mode minus direct mode, one at a time and at 50% of saturation (these carry the "
            "ledger's fsync noise and the other runs' load):",
            "",
            "| mode | hop direct p50 / p99 | hop via p50 / p99 | added p50 | added p99 "
            "| unloaded quote | unloaded payment | quote at 50% | payment at 50% |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        nan = math.nan
        for r in results:
            if r.mode == "direct":
                continue
            d50, r50 = direct.loaded.get(50, {}), r.loaded.get(50, {})
            du, ru = direct.unloaded_ms, r.unloaded_ms
            hd, hv = r.hop_ms.get("direct", (nan, nan)), r.hop_ms.get("via", (nan, nan))
            lines.append(
                f"| {r.mode} | {hd[0]:.2f} / {hd[1]:.2f} | {hv[0]:.2f} / {hv[1]:.2f} "
                f"| {hv[0] - hd[0]:+.2f} | {hv[1] - hd[1]:+.2f}"
                f" | {ru.get('quote', nan) - du.get('quote', nan):+.2f}"
                f" | {ru.get('payment', nan) - du.get('payment', nan):+.2f}"
                f" | {r50.get('quote_p50', nan) - d50.get('quote_p50', nan):+.2f}"
                f" | {r50.get('payment_p50', nan) - d50.get('payment_p50', nan):+.2f} |"
            )
        gw = [r for r in results if r.mode != "direct"]
        if gw and direct.saturation:
            best = max(gw, key=lambda r: r.saturation)
            lines += [
                "",
                f"Gateway throughput / direct: {best.saturation / direct.saturation:.2f}x ({best.mode}).",
            ]
    errors = {f"{r.mode}: {k}": n for r in results for k, n in r.sat_errors.items()}
    if errors:
        lines += ["", "Errors: " + ", ".join(f"{k} x{n}" for k, n in sorted(errors.items()))]
    shed = {f"{r.mode} {k}": n for r in results for k, n in r.shed.items()}
    if shed:
        lines += [
            "",
            "Shed by an instance (503) or rate-limited (429), then sent again after Retry-After "
            "(not errors: the admission doing its job): "
            + ", ".join(f"{k} x{n}" for k, n in sorted(shed.items())),
        ]
    if ledger:
        lines += [
            "",
            "The ledger alone (one writer, the write pattern of a card sale, no HTTP; same disk, "
            f"load average {loadavg()}): what store-level changes would buy",
            "",
            "| grouping of a sale's writes | sales/s | ms per commit |",
            "|---|---:|---:|",
        ]
        lines += [f"| {name} | {rate:,.0f} | {ms:.2f} |" for name, rate, ms in ledger]
    return "\n".join(lines) + "\n"


def write_benchmarks(text: str, store: str) -> None:
    """Into docs/BENCHMARKS.md between this script's markers: one section per store."""
    path = ROOT / "docs" / "BENCHMARKS.md"
    old = path.read_text(encoding="utf-8")
    begin, end = MARK_BEGIN, MARK_END
    title = "## Full sales under load (bench/load.py)"
    if store != "sqlite":
        begin, end = (
            begin.replace(" begin", f" --store {store} begin"),
            end.replace(" end", f" --store {store} end"),
        )
        title = f"## Full sales under load on {store} (bench/load.py --store {store})"
    block = f"{begin}\n{text}{end}\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + f"\n\n{title}\n\n" + block
    path.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", default="direct,gw1,gw2", help="comma-separated: direct, gw1, gw2")
    ap.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    ap.add_argument("--terminals", type=int, default=1000, help="simulated terminals, one key each")
    ap.add_argument("--workers", type=int, default=1, help="generator processes")
    ap.add_argument("--concurrency", type=int, default=64, help="sales in flight per worker at saturation")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    ap.add_argument("--max-sales", type=int, default=100_000, help="cap on sales per phase and worker")
    ap.add_argument("--max-in-flight", type=int, default=2000, help="open loop: cap on sales in flight")
    ap.add_argument(
        "--ledger-dir",
        help="where the run directory (and so the SQLite ledger) lives; default: a temporary folder on "
        "disk. /dev/shm takes fsync out of the picture and shows what the CPU alone allows",
    )
    ap.add_argument("--quick", action="store_true", help="3 s phases")
    ap.add_argument("--no-ledger", action="store_true", help="skip the ledger-alone measurement")
    ap.add_argument("--profile", help="py-spy one process while saturated: gateway, rates, payments")
    ap.add_argument("--profile-out", help="py-spy raw output file (default profile-NAME.txt)")
    ap.add_argument("--write", action="store_true", help="write the figures into docs/BENCHMARKS.md")
    args = ap.parse_args()
    if args.quick:
        args.seconds = 3.0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in ("direct", "gw1", "gw2")]
    if bad:
        raise SystemExit(f"unknown mode(s) {bad}; known: direct, gw1, gw2")
    keys = terminal_keys(args.terminals)
    results: list[ModeResult] = []
    with tempfile.TemporaryDirectory(prefix="cryptopos-load-", dir=args.ledger_dir) as tmp_name:
        tmp = Path(tmp_name)
        gen: Generator | None = None
        ledgers = Ledgers(args.store, tmp)
        try:
            ledger = None if args.no_ledger else ledger_ceiling(tmp, min(args.seconds, 6.0))
            for mode in modes:
                replicas = 2 if mode == "gw2" else 1
                print(f"== {mode}: starting the backend ({replicas} instance(s) per service) ...", flush=True)
                backend = start_backend(tmp, replicas=replicas, keys=keys, limits="", env=ledgers.env())
                try:
                    if gen is None:
                        gen = Generator(
                            args.workers,
                            {"rates": backend.gateway, "payments": backend.gateway},
                            args.terminals,
                        )
                    r = run_mode(mode, gen, backend, args, args.profile)
                finally:
                    stop_backend(backend)
                results.append(r)
                print(
                    f"   saturation {r.saturation:.0f} payments/s; load {r.load_before} -> {r.load_after}",
                    flush=True,
                )
        finally:
            if gen is not None:
                gen.close()
            ledgers.close()
    text = report(results, args, ledger)
    print()
    print(text)
    if args.write:
        write_benchmarks(text, args.store)
        print("written to docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()

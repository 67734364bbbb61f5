"""The real-process deployment: ``python -m backend_stub.supervisor --run-dir DIR``.

Started (detached) by ``cryptopos backend up``. Runs the gateway on a loopback port (its own
HTTP/1.1 server, :mod:`backend_stub.http1`, on uvloop when installed), the instances as
uvicorn processes (:mod:`backend_stub.processes`), and the control loop on a timer. Writes
``state.json`` in the run directory once everything listens, so the CLI's later commands
find the gateway and the control token; removes it on the way out.
SIGTERM or ``POST /_platform/shutdown`` drains and stops every instance, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from backend_stub.admission import admission_limits
from backend_stub.cluster import MonotonicClock
from backend_stub.control import control_app
from backend_stub.deployment import Deployment
from backend_stub.http1 import Server, ServerLimits
from backend_stub.processes import ProcessRunner, loopback_listener
from backend_stub.store import StoreError
from backend_stub.store.runtime import URL_FILE, open_store, record_url, resolve_url
from backend_stub.store.url import StoreURL
from backend_stub.topology import LimitsConfig, Topology, TopologyError, load_topology
from terminal.logs import configure as configure_logs

TICK_S = 0.1
# ``{"started": n, "ready": r, "total": m}`` while the instances start, for ``backend up``'s progress line;
# removed once state.json says the gateway listens
STARTING_FILE = "starting.json"
STARTING_EVERY_S = 0.2


class LedgerKeys:
    """The terminals' keys for the gateway's signature check: the ledger's terminals table, read
    whole every ``refresh_s`` by a thread (a key added, rotated or revoked reaches the gateway as
    it reaches the instances, docs/platform.md), so a request never waits on the database and a
    flood of unknown key ids costs no query. None until the first read: the instances, which
    check every signature themselves, are then the only check."""

    def __init__(self, run_dir: Path, url: StoreURL, *, refresh_s: float = 2.0) -> None:
        self.run_dir, self.url, self.refresh_s = run_dir, url, refresh_s
        self._table: dict[str, tuple[bytes, ...]] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-keys", daemon=True)

    def __call__(self) -> dict[str, tuple[bytes, ...]] | None:
        return self._table

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        store = None
        while not self._stop.is_set():
            try:
                if store is None:
                    store = open_store(self.run_dir, self.url)
                self._table = store.terminal_key_table(now=time.time())
            except Exception as exc:
                print(f"backend: gateway keys not refreshed: {exc}", file=sys.stderr)
            self._stop.wait(self.refresh_s)
        if store is not None:
            store.close()


def server_limits(limits: LimitsConfig) -> ServerLimits:
    return ServerLimits(
        max_body_bytes=limits.max_body_bytes,
        max_header_bytes=limits.max_header_bytes,
        header_timeout_s=limits.header_timeout_s,
        body_timeout_s=limits.body_timeout_s,
        keep_alive_s=limits.keep_alive_s,
        max_connections=limits.max_connections,
    )


def write_private(path: Path, text: str) -> None:
    """Owner-only, and whole or not at all: written aside and renamed into place, so a reader
    polling for the file (``backend up``, the benchmarks) never reads it half written."""
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(aside, path)


def prepare_store(run_dir: Path, topology: Topology) -> str:
    """Open the ledger once before any instance starts: its URL is checked, its schema migrated
    (or refused), the master key checked; the till's key that ``backend up`` left in
    ``keys.json`` goes into the terminals table (sealed), and the file is removed. The URL is
    recorded for the instances. Returns it, redacted. :class:`StoreError` when it cannot be used."""
    (run_dir / URL_FILE).unlink(missing_ok=True)  # a previous run's choice does not count
    url = resolve_url(run_dir, topology_url=topology.store.url)
    store = open_store(run_dir, url)
    try:
        keys_file = run_dir / "keys.json"
        if keys_file.exists():
            keys = json.loads(keys_file.read_text(encoding="utf-8"))
            for key_id, secret in keys.items():
                outcome = store.ensure_terminal(str(key_id), bytes.fromhex(secret), now=time.time())
                print(f"backend: terminal {key_id}: {outcome}", file=sys.stderr)
            keys_file.unlink()
    finally:
        store.close()
    record_url(run_dir, url)
    return url.redacted()


async def serve(*, run_dir: Path, topology_path: Path, port: int) -> int:
    topology = load_topology(topology_path)
    try:
        where = await asyncio.to_thread(prepare_store, run_dir, topology)
    except (StoreError, KeyError, ValueError) as exc:
        reason = f"terminal {exc} is revoked" if isinstance(exc, KeyError) else str(exc)
        print(f"backend: the ledger cannot be used: {reason}", file=sys.stderr)
        return 2
    # bind the gateway's port before starting any instance: a busy port fails cleanly
    try:
        sock = loopback_listener(port)
    except OSError as exc:
        print(f"backend: cannot listen on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    clock = MonotonicClock()
    stop = asyncio.Event()
    token = secrets.token_hex(16)
    write_private(run_dir / "control-token", token)
    runner = ProcessRunner(
        run_dir=run_dir,
        clock=clock,
        admission=admission_limits(topology.limits),
        refunds=topology.refund_policy(),
    )
    keys = LedgerKeys(run_dir, resolve_url(run_dir))
    keys.start()
    deployment = Deployment.build(topology, runner=runner, clock=clock, keys=keys)
    deployment.topology_dir = topology_path.resolve().parent
    deployment.gateway.control = control_app(deployment, token=token, on_shutdown=stop.set)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reporter = asyncio.ensure_future(_report_start(run_dir, deployment))
    try:
        await deployment.start()
    finally:
        reporter.cancel()
        (run_dir / STARTING_FILE).unlink(missing_ok=True)
    server = Server(deployment.gateway.handle, limits=server_limits(topology.limits))
    deployment.gateway.server_stats = server.stats
    await server.start(sock)
    bound = sock.getsockname()[1]
    state = {
        "pid": os.getpid(),
        "gateway": f"http://127.0.0.1:{bound}",
        "store": where,
        "started_at": time.time(),
        "topology": str(topology_path),
    }
    write_private(run_dir / "state.json", json.dumps(state))
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
            await deployment.tick()
    finally:
        await deployment.aclose()
        await server.close()
        await asyncio.to_thread(keys.stop)
        (run_dir / "state.json").unlink(missing_ok=True)
    return 0


async def _report_start(run_dir: Path, deployment: Deployment) -> None:
    """How many of the instances the topology wants are started, and how many of those are
    ready, every 0.2 s while they start (the gateway listens once each has been started and
    probed once; a slow one turns ready afterwards)."""
    pools = deployment.cluster.pools.values()
    while True:
        total = sum(sum(p.desired().values()) for p in pools)
        started = sum(len(p.instances) for p in pools)
        ready = sum(len(p.ready()) for p in pools)
        doc = {"started": started, "ready": ready, "total": total}
        write_private(run_dir / STARTING_FILE, json.dumps(doc))
        await asyncio.sleep(STARTING_EVERY_S)


def run(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run`` on uvloop when it is installed (a cheaper event loop for the gateway)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m backend_stub.supervisor")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--topology", default="config/backend.toml")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    configure_logs(run_dir / "logs" / "gateway.jsonl")  # each instance: logs/INSTANCE.jsonl
    try:
        return run(serve(run_dir=run_dir, topology_path=Path(args.topology), port=args.port))
    except TopologyError as exc:
        print(f"backend: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover - process entry point
    sys.exit(main())

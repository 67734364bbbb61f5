"""The real-process deployment: ``python -m backend_stub.supervisor --run-dir DIR``.

Started (detached) by ``cryptopos backend up``. Runs the gateway on a loopback port with
uvicorn, the instances as uvicorn processes (:mod:`backend_stub.processes`), and the control
loop on a timer. Writes ``state.json`` in the run directory once everything listens, so the
CLI's later commands find the gateway and the control token; removes it on the way out.
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
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from backend_stub.cluster import MonotonicClock
from backend_stub.control import control_app
from backend_stub.deployment import Deployment
from backend_stub.processes import ProcessRunner, loopback_listener
from backend_stub.store import StoreError
from backend_stub.store.runtime import URL_FILE, open_store, record_url, resolve_url
from backend_stub.topology import Topology, TopologyError, load_topology

TICK_S = 0.1


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the supervisor stops it after draining."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


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
    deployment = Deployment.build(topology, runner=ProcessRunner(run_dir=run_dir, clock=clock), clock=clock)
    deployment.topology_dir = topology_path.resolve().parent
    deployment.gateway.control = control_app(deployment, token=token, on_shutdown=stop.set)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await deployment.start()
    server = _Server(uvicorn.Config(deployment.gateway, log_level="warning", lifespan="off"))
    server_task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        if server_task.done():
            await deployment.aclose()
            return 1
        await asyncio.sleep(0.02)
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
        server.should_exit = True
        await server_task
        (run_dir / "state.json").unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m backend_stub.supervisor")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--topology", default="config/backend.toml")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(serve(run_dir=run_dir, topology_path=Path(args.topology), port=args.port))
    except TopologyError as exc:
        print(f"backend: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover - process entry point
    sys.exit(main())

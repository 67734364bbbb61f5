"""One instance as a real process: ``python -m backend_stub.instance``, started by the
process runner with a listening socket it inherits (``--fd``), so the port is known before
the process starts and no other process can take it.

The instance serves its service's app (the services' ``create_service_app`` with the ledger
in the run directory when the app module has it; otherwise the whole backend app), wrapped
in the build's fault middleware. A "crash" fault ends the process at once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from backend_stub.faults import FaultMiddleware, FaultSpec

CRASH_EXIT = 70


def read_keys(run_dir: Path) -> dict[str, bytes]:
    path = run_dir / "keys.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): bytes.fromhex(v) for k, v in data.items()}


def build_app(service: str, build: str, *, run_dir: Path, settings: dict[str, Any]) -> ASGIApp:
    keys = read_keys(run_dir)
    app_module = importlib.import_module("backend_stub.app")
    per_service = getattr(app_module, "create_service_app", None)
    if per_service is not None:
        store_mod = importlib.import_module("backend_stub.store")
        settings_mod = importlib.import_module("backend_stub.settings")
        store = store_mod.Store(run_dir / "ledger.sqlite3")
        made: ASGIApp = per_service(
            service, store=store, settings=settings_mod.ServiceSettings(keys=keys), build=build
        )
        return made
    # the walking skeleton's app keeps its state in memory: one process, one ledger
    state_mod = importlib.import_module("backend_stub.state")
    whole: ASGIApp = app_module.create_app(state_mod.BackendState(keys=keys))
    return whole


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m backend_stub.instance")
    p.add_argument("--service", required=True)
    p.add_argument("--build", required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="an inherited listening socket (the process runner)")
    where.add_argument("--port", type=int, help="listen on --host:PORT (a container)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--faults", default="")
    p.add_argument("--settings", default="{}", help="the build's behaviour settings, JSON")
    args = p.parse_args(argv)
    app = build_app(args.service, args.build, run_dir=Path(args.run_dir), settings=json.loads(args.settings))
    faults = FaultSpec.parse(args.faults) if args.faults else FaultSpec()
    if faults.active:

        def crash() -> None:
            sys.stderr.write(f"instance {args.service} {args.build}: injected crash\n")
            sys.stderr.flush()
            os._exit(CRASH_EXIT)

        app = FaultMiddleware(app, faults, clock=time.monotonic, on_crash=crash)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=10, timeout_keep_alive=5)
    if args.fd is None:
        config.host, config.port = args.host, args.port
        uvicorn.Server(config).run()
    else:
        # socket(fileno=) detects the family; uvicorn's own fd= assumes AF_UNIX, and asyncio
        # then leaves Nagle on for TCP connections (40 ms delayed-ACK stalls per request)
        sock = socket.socket(fileno=args.fd)
        uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":  # pragma: no cover - process entry point
    sys.exit(main())

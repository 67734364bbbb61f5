"""One instance as a real process: ``python -m backend_stub.instance``, started by the
process runner with a listening socket it inherits (``--fd``), so the port is known before
the process starts and no other process can take it.

The instance serves its service's app (``create_service_app``, every API version) on the
shared ledger (SQLite in the run directory, or PostgreSQL: see backend_stub/store/runtime.py), wrapped in
the build's fault middleware. A "crash" fault ends the process at once. Started with
``--parent-pid`` (the process runner), it ends when its parent does, even a SIGKILLed one:
an orphaned instance would keep its port and the ledger open with no one to stop it.
In a container, ``--port P --workers N`` runs N uvicorn workers on one port; their request
metrics are summed through prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import importlib.util
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp

from backend_stub.admission import AdmissionLimits, AdmissionMiddleware
from backend_stub.app import SERVICES, create_service_app
from backend_stub.faults import FaultMiddleware, FaultSpec
from backend_stub.metrics import MULTIPROC_ENV, instrument
from backend_stub.settings import PolicyError, RefundPolicy, ServiceSettings
from backend_stub.store import StoreError
from backend_stub.store.runtime import open_store, resolve_url

CRASH_EXIT = 70
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_S = 0.5


def die_with_parent(parent_pid: int) -> None:
    """SIGTERM this process (uvicorn's graceful stop) when ``parent_pid`` is gone.

    Linux: the kernel sends it (``PR_SET_PDEATHSIG``) when the thread that started us exits;
    the runner starts instances from the event loop's thread, which lives as long as the
    supervisor. Elsewhere, or if prctl fails: a daemon thread watches ``getppid()``. Either
    way the parent may already be gone before we got here, which only the check below sees."""
    armed = False
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    if os.getppid() != parent_pid:
        raise SystemExit(f"instance: parent process {parent_pid} is gone")
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)


def build_app(
    service: str,
    build: str,
    *,
    run_dir: Path,
    settings: dict[str, Any],
    discovery: tuple[Any, ...] = (),
    refunds: dict[str, Any] | None = None,
) -> ASGIApp:
    """The service's app on the shared ledger (``CRYPTOPOS_STORE_URL``, else the one the
    supervisor recorded in the run directory); terminal keys come from its terminals table."""
    from backend_stub.deployment import service_settings

    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; services: {', '.join(SERVICES)}")
    for name in discovery:
        if name not in SERVICES:
            raise SystemExit(
                f"unknown service {name!r} in --discovery-services; services: {', '.join(SERVICES)}"
            )
    try:
        store = open_store(run_dir, resolve_url(run_dir))
    except StoreError as exc:
        raise SystemExit(f"instance {service} {build}: {exc}") from None
    base = ServiceSettings()
    if refunds is not None:  # the topology's [refunds], as the supervisor passes it on
        try:
            base = dataclasses.replace(base, refunds=RefundPolicy.from_config(refunds))
        except PolicyError as exc:
            raise SystemExit(f"instance {service} {build}: [refunds] {exc}") from None
    app: ASGIApp = create_service_app(
        service,  # checked against SERVICES above
        store=store,
        settings=service_settings(base, build, settings),
        build=build,
        discovery=discovery,
    )
    return app


WORKER_ARGV_ENV = "CRYPTOPOS_INSTANCE_ARGV"  # how uvicorn's worker processes get this command line
REFUNDS_ENV = "CRYPTOPOS_REFUNDS"  # the refund policy on Kubernetes (deploy/k8s/payments.yaml)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    p.add_argument("--parent-pid", type=int, help="end when this process (the runner) ends")
    p.add_argument(
        "--discovery-services",
        default="",
        help="comma-separated services GET /discovery lists (default: this one; no gateway merges them)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes (with --port); metrics then use prometheus_client's multiprocess mode",
    )
    p.add_argument("--admission", default="{}", help="the admission limits (backend_stub.admission), JSON")
    p.add_argument(
        "--refunds",
        default=os.environ.get(REFUNDS_ENV, ""),
        help=f"the refund policy (the topology's [refunds]), JSON; default: ${REFUNDS_ENV} (a ConfigMap)",
    )
    p.add_argument("--log-file", help="structured (JSON) log, rotated (terminal.logs); none: no log file")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p.parse_args(argv)


def _refunds(text: str) -> dict[str, Any] | None:
    """The ``--refunds`` JSON (or ``$CRYPTOPOS_REFUNDS``): a table, or a clear exit."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--refunds / ${REFUNDS_ENV}: not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(data, dict):
        raise SystemExit(f'--refunds / ${REFUNDS_ENV}: a JSON object like {{"window_days": 30}}')
    return data


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _loop() -> Literal["uvloop", "asyncio"]:
    return "uvloop" if _has("uvloop") else "asyncio"


def _http() -> Literal["httptools", "h11"]:
    return "httptools" if _has("httptools") else "h11"


def _admission(data: dict[str, Any]) -> AdmissionLimits:
    if "max_wait_s" in data:
        data = {**data, "max_wait_s": tuple(data["max_wait_s"])}
    return AdmissionLimits(**data)


# what every uvicorn here runs with: the C parser and event loop when installed (cryptopos depends
# on both on Linux), about half the server's own cost per request; no access log; no proxy headers
# (only the gateway talks to an instance: there is no proxy to trust)
SERVER_OPTIONS: dict[str, Any] = {
    "log_level": "warning",
    "timeout_graceful_shutdown": 10,
    "timeout_keep_alive": 5,
    "access_log": False,
    "proxy_headers": False,
}


def instance_app(args: argparse.Namespace) -> ASGIApp:
    """The service's app with the build's faults, outside them the instance's admission
    (backend_stub.admission), and outside all the request metrics: a request shed or refused
    there is still one that arrived (the autoscaler counts demand, not only what was served)."""
    app = build_app(
        args.service,
        args.build,
        run_dir=Path(args.run_dir),
        settings=json.loads(args.settings),
        discovery=tuple(s for s in args.discovery_services.split(",") if s),
        refunds=_refunds(args.refunds),
    )
    faults = FaultSpec.parse(args.faults) if args.faults else FaultSpec()
    if faults.active:

        def crash() -> None:
            sys.stderr.write(f"instance {args.service} {args.build}: injected crash\n")
            sys.stderr.flush()
            os._exit(CRASH_EXIT)

        app = FaultMiddleware(app, faults, clock=time.monotonic, on_crash=crash)
    app = AdmissionMiddleware(app, _admission(json.loads(args.admission)))
    return instrument(app, service=args.service, build=args.build)  # outside the faults: the build's own


def worker_app() -> ASGIApp:
    """uvicorn's app factory in each worker process (``--workers N``)."""
    return instance_app(parse_args(json.loads(os.environ[WORKER_ARGV_ENV])))


def serve_workers(args: argparse.Namespace, argv: list[str]) -> int:
    """N uvicorn workers on one port. Each keeps its metrics in PROMETHEUS_MULTIPROC_DIR (default
    RUN_DIR/prometheus), emptied first: files of an earlier run's processes would be summed too."""
    directory = Path(os.environ.setdefault(MULTIPROC_ENV, str(Path(args.run_dir) / "prometheus")))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[WORKER_ARGV_ENV] = json.dumps(argv)
    uvicorn.run(
        "backend_stub.instance:worker_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop=_loop(),
        http=_http(),
        **SERVER_OPTIONS,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.log_file:
        from terminal.logs import configure

        configure(Path(args.log_file), level=args.log_level)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    if args.workers > 1:
        if args.port is None:
            raise SystemExit(
                "instance: --workers needs --port (the process runner hands one socket to one process)"
            )
        return serve_workers(args, argv)
    config = uvicorn.Config(instance_app(args), loop=_loop(), http=_http(), **SERVER_OPTIONS)
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

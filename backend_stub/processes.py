"""The process runner: every instance is a uvicorn process on a loopback port.

The runner binds ``127.0.0.1:0`` itself and hands the listening socket to the child
(``pass_fds``), so the port is known at once and connections made before the app is up
wait in the backlog instead of being refused. Stopping is SIGTERM (uvicorn finishes
in-flight requests), after the gateway has drained the instance; SIGKILL if it hangs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from backend_stub.admission import AdmissionLimits
from backend_stub.cluster import Clock, Instance
from backend_stub.faults import FaultSpec
from backend_stub.http1 import ConnectionPool
from backend_stub.topology import BuildConfig

STOP_TIMEOUT_S = 12.0


def loopback_listener(port: int) -> socket.socket:
    """A listening TCP socket on ``127.0.0.1:PORT`` (0: any free port); ``OSError`` if taken.

    Made with an explicit ``IPPROTO_TCP``: asyncio sets ``TCP_NODELAY`` on an accepted
    connection only when the socket's ``proto`` says TCP, and ``socket(AF_INET, SOCK_STREAM)``
    reports 0, which accepted sockets inherit. Nagle then holds each small response until the
    client's delayed ACK (~40 ms per request on a keep-alive connection)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


class ProcessRunner:
    def __init__(
        self,
        *,
        run_dir: Path,
        clock: Clock,
        python: str = sys.executable,
        admission: AdmissionLimits | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.clock = clock
        self.python = python
        self.admission = admission or AdmissionLimits()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)

    async def start(
        self, *, instance_id: str, service: str, build: str, config: BuildConfig, faults: FaultSpec
    ) -> Instance:
        sock = loopback_listener(0)
        port = sock.getsockname()[1]
        log = (self.run_dir / "logs" / f"{instance_id}.log").open("ab")
        cmd = [
            self.python,
            "-m",
            "backend_stub.instance",
            "--service",
            service,
            "--build",
            build,
            "--fd",
            str(sock.fileno()),
            "--run-dir",
            str(self.run_dir),
            "--settings",
            json.dumps(config.settings),
            "--parent-pid",
            str(os.getpid()),
            "--admission",
            json.dumps(dataclasses.asdict(self.admission)),
        ]
        if faults.active:
            cmd += ["--faults", faults.describe()]
        try:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                cmd, pass_fds=[sock.fileno()], stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        finally:
            sock.close()
            log.close()
        self.procs[instance_id] = proc

        async def stop() -> None:
            await self._stop(instance_id)

        return Instance(
            id=instance_id,
            service=service,
            build=build,
            base_url=f"http://127.0.0.1:{port}",
            transport=_http_transport(),  # readiness probes
            pool=ConnectionPool("127.0.0.1", port),  # what the gateway forwards on
            started_at=self.clock.now(),
            stop_hook=stop,
            alive=lambda: proc.poll() is None,
            pid=proc.pid,
        )

    async def _stop(self, instance_id: str) -> None:
        proc = self.procs.pop(instance_id, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), STOP_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await asyncio.to_thread(proc.wait)

    async def aclose(self) -> None:
        await asyncio.gather(*(self._stop(i) for i in list(self.procs)))


def _http_transport() -> httpx.AsyncHTTPTransport:
    # no retries here: the gateway decides what is retried and where
    return httpx.AsyncHTTPTransport(retries=0)

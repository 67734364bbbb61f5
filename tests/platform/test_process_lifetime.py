"""Process mode on real sockets and processes: the listening sockets answer without Nagle's
delayed-ACK stall, and instances end with their supervisor, even a SIGKILLed one. Bounded."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backend_stub.processes import loopback_listener
from tests.platform.helpers import SMALL_TOPOLOGY as TOPOLOGY
from tests.platform.helpers import first_answer


async def test_connections_accepted_by_a_loopback_listener_have_nodelay() -> None:
    # the mechanism uvicorn relies on (``serve(sockets=[...])`` is ``create_server(sock=...)``):
    # asyncio sets TCP_NODELAY on an accepted connection only if the socket says it is TCP
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    listener = loopback_listener(0)
    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
        assert await asyncio.wait_for(seen, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_a_taken_port_is_an_oserror_and_leaves_no_socket_open() -> None:
    taken = loopback_listener(0)
    try:
        with pytest.raises(OSError):
            loopback_listener(taken.getsockname()[1])
    finally:
        taken.close()


def _pids_in(run_dir: Path) -> list[int]:
    """Processes whose command line names this test's run directory (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(run_dir.resolve()).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(sys.platform != "linux", reason="finds leftover processes through /proc")
def test_instances_end_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    (tmp_path / "backend.toml").write_text(TOPOLOGY)
    run_dir = tmp_path / "run"
    log = (tmp_path / "supervisor.log").open("wb")
    topology = str(tmp_path / "backend.toml")
    cmd = [sys.executable, "-m", "backend_stub.supervisor", "--run-dir", str(run_dir), "--topology", topology]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while not (run_dir / "state.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the supervisor did not start"
            time.sleep(0.1)
        gateway = json.loads((run_dir / "state.json").read_text())["gateway"]
        while True:  # a busy machine may need a few readiness checks before every instance answers
            status = httpx.get(gateway + "/_platform/status", timeout=5).json()
            ready = [i["state"] == "ready" for s in status["services"].values() for i in s["instances"]]
            if len(ready) == 3 and all(ready):
                break
            assert time.monotonic() < deadline + 30, status
            time.sleep(0.1)
        urls = [i["url"] for s in status["services"].values() for i in s["instances"]]
        assert len(urls) == 3
        for url in urls:
            assert first_answer(url + "/healthz").status_code == 200
        assert len([p for p in _pids_in(run_dir) if p != proc.pid]) == 3  # the instances
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

        deadline = time.monotonic() + 20
        while _pids_in(run_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _pids_in(run_dir) == []
        for url in urls:
            with pytest.raises(httpx.ConnectError):
                httpx.get(url + "/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in _pids_in(run_dir):  # only on failure: leave no process behind
            os.kill(pid, signal.SIGKILL)
        log.close()


def test_an_instance_whose_parent_is_already_gone_does_not_start(tmp_path: Path) -> None:
    # this test process is the instance's parent, so any other pid stands for a parent that died
    gone = os.getpid() + 1
    where = ["--port", "0", "--run-dir", str(tmp_path), "--parent-pid", str(gone)]
    cmd = [sys.executable, "-m", "backend_stub.instance", "--service", "payments", "--build", "1.4.0", *where]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert f"parent process {gone} is gone" in done.stderr

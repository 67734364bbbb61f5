"""SIGKILL a terminal at random points while it takes payments against a real backend process
(uvicorn on loopback, its ledger in a SQLite file); after each restart and reconcile, the terminal's
journal and the backend's ledger agree exactly: nothing lost, nothing charged twice, nothing open."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from terminal.journal import Journal
from tests.pg import Ledger
from tests.reliability.harness import KEY_ID, SECRET, assert_ledger_agrees

HERE = Path(__file__).parent


@pytest.fixture
def backend_process(ledger_spec: Ledger) -> Iterator[tuple[str, Ledger]]:
    db = ledger_spec
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "ledger_server.py"),
            "--fd",
            str(sock.fileno()),
            "--db",
            db.url,
            "--key-id",
            KEY_ID,
            "--secret",
            SECRET.decode(),
        ],
        pass_fds=[sock.fileno()],
        env=db.env(),
    )
    sock.close()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the backend process did not start")
            time.sleep(0.05)
        yield url, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ledger(db: Ledger) -> list[tuple[str, str, str]]:
    """Every payment in the backend's ledger, read beside the running backend."""
    store = db.open()
    try:
        rows = store.fetch_all("SELECT reference, payment_id, status FROM payments ORDER BY seq")
    finally:
        store.close()
    return [(r[0], r[1], r[2]) for r in rows]


def spawn(journal: Path, url: str, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "crash_worker.py"),
            "--journal",
            str(journal),
            "--url",
            url,
            "--key-id",
            KEY_ID,
            "--secret",
            SECRET.decode(),
            "--seed",
            str(seed),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def close(proc: subprocess.Popen[str]) -> None:
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"the worker exited early with {proc.wait()}")
    return line.strip()


def restart_and_check(
    journal_path: Path, url: str, db: Ledger, seed: int
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start a terminal (which reconciles), then compare its journal with the backend's ledger."""
    proc = spawn(journal_path, url, seed)
    assert read_line(proc) == "reconciling"
    report = json.loads(read_line(proc))
    assert report["left"] == {}, f"reconcile left sales open: {report['left']}"
    j = Journal(journal_path)
    try:
        assert_ledger_agrees(j, ledger(db))
    finally:
        j.close()
    return proc, report["reconciled"]


def crash_run(tmp_path: Path, backend: tuple[str, Ledger], kills: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    url, db = backend
    journal_path = tmp_path / "journal.sqlite3"
    stats = {"kills": 0, "reconciled": 0}
    proc, _ = restart_and_check(journal_path, url, db, seed)
    try:
        for i in range(kills):
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert read_line(proc) == "ready"
            time.sleep(rng.uniform(0.0, 0.5))  # a random point in the stream of payments
            os.kill(proc.pid, signal.SIGKILL)
            close(proc)
            stats["kills"] += 1
            proc, settled = restart_and_check(journal_path, url, db, seed + i + 1)
            stats["reconciled"] += len(settled)
            for status in settled.values():
                stats[f"reconciled_{status}"] = stats.get(f"reconciled_{status}", 0) + 1
    finally:
        proc.kill()
        close(proc)
    j = Journal(journal_path)
    stats["sales"] = len(j.sales())
    stats["approved"] = len(j.sales(states=("approved",)))
    j.close()
    return stats


def test_sigkill_at_random_points_30_times(tmp_path: Path, backend_process: tuple[str, Ledger]) -> None:
    stats = crash_run(tmp_path, backend_process, kills=30, seed=1)
    assert stats["kills"] == 30
    assert stats["approved"] >= 10  # payments were really taken between the kills (fewer on a loaded machine)
    assert stats["reconciled"] > 0  # and some kills left sales for reconcile to settle
    print(f"crash test: {stats}")


@pytest.mark.slow
def test_sigkill_at_random_points_300_times(tmp_path: Path, backend_process: tuple[str, Ledger]) -> None:
    stats = crash_run(tmp_path, backend_process, kills=300, seed=1000)
    assert stats["kills"] == 300
    print(f"crash test: {stats}")


# The queue's forwarding (order, one charge per sale) is the terminal's; PostgreSQL's part, the
# idempotent charge under kills, is in the test above and in tests/backend/test_store_concurrency.
# So PostgreSQL here only behind `slow`: each run is up to 100 terminal starts (~190 s at load 8).
@pytest.mark.parametrize(
    "ledger_spec", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True
)
def test_sigkill_mid_forwarding_of_the_offline_queue(
    tmp_path: Path, backend_process: tuple[str, Ledger]
) -> None:
    """An offline queue of 100 sales; the terminal is killed again and again while its start-up
    reconcile forwards them. In the end each is charged exactly once, in the order taken."""
    url, db = backend_process
    journal_path = tmp_path / "journal.sqlite3"
    j = Journal(journal_path)
    queued = []
    for i in range(100):
        ref = f"t_crash-offline-{i:03d}"
        j.open_sale(
            reference=ref, idempotency_key=f"key-{ref}", fiat_minor=500 + i, fiat_currency="EUR", asset="BTC"
        )
        j.queue_offline(ref, payload="cryptopos-test:card:approve", payload_kind="test_card")
        queued.append(ref)
    j.close()
    rng = random.Random(7)
    kills = 0
    for attempt in range(100):
        proc = spawn(journal_path, url, attempt)
        assert read_line(proc) == "reconciling"  # started: the forwarding runs now
        time.sleep(rng.uniform(0.05, 0.3))  # first forward after ~0.1 s of warm-up
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        close(proc)
        charged = [ref for ref, _, _ in ledger(db)]
        assert len(charged) == len(set(charged)), "a queued sale was charged twice"
        assert charged == queued[: len(charged)], "forwarded out of order"
        j = Journal(journal_path)
        left = j.offline_queue()
        j.close()
        if not left:
            break
    # one clean start settles whatever the last kill left
    proc, _ = restart_and_check(journal_path, url, db, 999)
    proc.kill()
    close(proc)
    assert kills >= 5
    print(f"forwarding crash test: {kills} kills, {len(queued)} queued sales")
    assert [ref for ref, _, status in ledger(db)] == queued
    j = Journal(journal_path)
    assert all(j.get(r).state == "approved" and j.get(r).payload is None for r in queued)  # type: ignore[union-attr]
    j.close()

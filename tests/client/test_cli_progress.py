"""``reconcile`` and ``scan`` draw one line of progress on stderr when it is a terminal (a real
pseudo-terminal here), rewritten in place with ``\\r``, erased before the command's own output;
in a pipe stderr stays empty. Run as real processes (``python -m terminal``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2

from drivers.camera import synth
from terminal.journal import Journal
from tests.platform.helpers import SMALL_TOPOLOGY

BIP21 = synth.PAYLOADS["bip21"]


def run(argv: list[str], *, tty: bool, cwd: Path) -> tuple[int, str, str]:
    """The command's exit code, stdout, and what reached stderr (a pty when ``tty``)."""
    env = {**os.environ, "COLUMNS": "100"}
    cmd = [sys.executable, "-m", "terminal", *argv]
    if not tty:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False)
        return done.returncode, done.stdout, done.stderr
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, cwd=cwd, env=env, text=True)
        os.close(slave)
        out, _ = proc.communicate(timeout=120)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


def test_scan_shows_progress_on_a_terminal_and_nothing_in_a_pipe(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        still = tmp_path / f"code{i}.png"
        cv2.imwrite(str(still), synth.frame(640, 480, BIP21, seed=i))
        paths.append(str(still))
    code, out, err = run(["scan", *paths, "--json"], tty=True, cwd=tmp_path)
    assert code == 0, err
    assert [json.loads(x)["payloads"][0]["payload"] for x in out.splitlines()] == [BIP21] * 3
    assert "scanning 3/3" in err and "\r" in err, repr(err)
    assert err.endswith("\r\x1b[K"), repr(err[-40:])  # erased: the terminal's next line is clean
    code, piped_out, piped_err = run(["scan", *paths, "--json"], tty=False, cwd=tmp_path)
    assert (code, piped_err) == (0, "")
    assert [json.loads(x)["path"] for x in piped_out.splitlines()] == paths  # the same output, timings aside


def test_reconcile_shows_progress_on_a_terminal_and_nothing_in_a_pipe(tmp_path: Path) -> None:
    def journal_with_old_sales(path: Path) -> None:
        old = Journal(path, clock=lambda: time.time() - 600)
        for n in range(3):
            ref = f"r-old-{n}"
            old.open_sale(
                reference=ref, idempotency_key=ref, fiat_minor=500, fiat_currency="EUR", asset="BTC"
            )
            old.update(ref, "unknown_outcome", submitted_at=time.time() - 600)
        old.close()

    for tty in (True, False):
        path = tmp_path / f"{tty}" / "j.sqlite3"
        path.parent.mkdir()
        journal_with_old_sales(path)
        code, out, err = run(
            ["reconcile", "--backend", "embedded", "--journal", str(path)], tty=tty, cwd=path.parent
        )
        assert code == 0, (out, err)
        assert out.count("settled    r-old-") == 3
        if tty:
            assert "reconciling 3/3" in err and err.endswith("\r\x1b[K"), repr(err)
        else:
            assert err == ""


def test_backend_up_shows_its_instances_coming_up_on_a_terminal(tmp_path: Path) -> None:
    """A few seconds of starting processes is not a silent wait: "instances started n/3  r
    ready", then the line is erased before the command's own report (stdout is a pipe here
    either way)."""
    topology = tmp_path / "topology.toml"
    topology.write_text(SMALL_TOPOLOGY)
    repo = Path(__file__).resolve().parents[2]
    for tty in (True, False):
        run_dir = tmp_path / f"run-{tty}"
        up = ["backend", "up", "--run-dir", str(run_dir), "--port", "0", "--topology", str(topology)]
        try:
            code, out, err = run(up, tty=tty, cwd=repo)
            assert code == 0, (out, err)
            assert out.startswith("gateway   http://127.0.0.1:")
            # each instance listed; a slow one may still be starting when up returns
            states = re.findall(r"http://127\.0\.0\.1:\d+ +(ready|starting)$", out, re.MULTILINE)
            assert len(states) == 3, out
        finally:
            run(["backend", "down", "--run-dir", str(run_dir)], tty=False, cwd=repo)
        assert not (run_dir / "starting.json").exists()
        if tty:
            assert "starting the backend: instances started " in err and "/3  " in err, repr(err)
            assert " ready" in err
            assert err.endswith("\r\x1b[K"), repr(err[-40:])
        else:
            assert err == ""

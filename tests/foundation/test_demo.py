"""`cryptopos demo`, what `make demo` runs without a terminal: every scripted sale ends as scripted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_headless_demo_runs_the_whole_script_on_one_embedded_backend() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "terminal", "demo"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    statuses = [line.split()[0] for line in r.stdout.splitlines() if line[:1].isupper() and "EUR" in line]
    assert statuses == ["APPROVED", "APPROVED", "DECLINED", "APPROVED"]
    # one backend for the whole script: four different payments, all in its ledger
    payments = {line.split()[1] for line in r.stdout.splitlines() if line.strip().startswith("payment ")}
    assert len(payments) == 4
    assert "Traceback" not in r.stderr

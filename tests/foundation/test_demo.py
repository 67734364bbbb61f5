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
    # staff: the PINs first, the cashier signed in, every sale in the audit trail under her
    lines = r.stdout.splitlines()
    [hint] = [i for i, line in enumerate(lines) if line.startswith("demo: Cass Demo (cashier) PIN ")]
    assert "Max Demo (manager) PIN " in lines[hint]
    assert hint < lines.index("-- Cass Demo signed in") < min(i for i, x in enumerate(lines) if "EUR" in x)
    settled = [line.split() for line in lines if " sale_settled " in line]
    assert [row[2] for row in settled] == ["s_demo_cashier"] * 4
    # the embedded backend holds the demo manager: the refund is made, asked by the cashier and
    # approved by the manager (the backend checked the PIN)
    at = lines.index("-- a refund of the first sale, approved by Max Demo")
    refund = lines[at + 1].strip()
    assert refund.startswith("COMPLETED refund"), refund
    assert "approved by s_demo_manager" in lines[at + 2], lines[at + 2]
    assert "Traceback" not in r.stderr

"""``cryptopos history | head -1``: a reader that stops early is not an 'unexpected error'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from terminal.journal import Journal


def test_history_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    for i in range(3000):
        journal.open_sale(
            reference=f"r{i}", idempotency_key=f"k{i}", fiat_minor=100, fiat_currency="EUR", asset="BTC"
        )
    journal.close()
    with subprocess.Popen(
        [sys.executable, "-m", "terminal", "history", "--journal", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as cli:
        assert cli.stdout is not None and cli.stderr is not None
        cli.stdout.readline()
        cli.stdout.close()  # like `head -1`
        err = cli.stderr.read().decode()
        cli.wait(timeout=60)
    assert "unexpected error" not in err
    assert "Traceback" not in err
    assert "Exception ignored" not in err

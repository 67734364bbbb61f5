"""A damaged journal stops the till with exit 2 and what to do; a newer one is refused; an old
0644 journal is made owner-only. Each built from the reproducer in the bad-input issue."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from terminal.journal import MIGRATIONS, Journal, JournalDamagedError, JournalOpenError

REPO = Path(__file__).resolve().parents[2]


def a_day(path: Path) -> None:
    """A real journal: 40 settled sales with their events, and two left open."""
    j = Journal(path)
    for i in range(40):
        ref = f"t_day-{i:03d}"
        j.open_sale(
            reference=ref, idempotency_key=f"k-{ref}", fiat_minor=450 + i, fiat_currency="EUR", asset="BTC"
        )
        j.update(ref, "quoted", crypto_minor=5000 + i, quote_id=f"q{i}")
        j.update(ref, "approved", payment_id=f"pay_{i}")
    j.open_sale(
        reference="t_open-1", idempotency_key="k-o1", fiat_minor=1250, fiat_currency="EUR", asset="ETH"
    )
    j.update("t_open-1", "submitted", payment_id="pay_open1")
    j.open_sale(
        reference="t_open-2", idempotency_key="k-o2", fiat_minor=990, fiat_currency="EUR", asset="BTC"
    )
    j.close()  # checkpoints the WAL into the file


def zero_pages_of(path: Path, table: str) -> None:
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    db.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\0" * page_size)


def history(journal: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "terminal", "history", "--journal", str(journal)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(journal.parent)},
    )


def test_a_journal_with_zeroed_event_pages_is_refused_with_exit_2_a_copy_and_its_open_sales(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    a_day(path)
    zero_pages_of(path, "sale_events")
    before = path.read_bytes()

    done = history(path)
    assert done.returncode == 2, done
    err = done.stderr
    assert "Traceback" not in err and "is damaged" in err
    assert "t_open-1: submitted, 12.50 EUR in ETH, payment pay_open1" in err
    assert "t_open-2: " in err and ", 9.90 EUR in BTC" in err
    assert "t_day-" not in err  # settled sales are not listed
    copies = sorted(tmp_path.glob("journal.sqlite3.damaged-*"))
    assert [c.name for c in copies if not c.name.endswith("-wal")] and str(copies[0]) in err
    assert copies[0].read_bytes() == before
    assert stat.S_IMODE(copies[0].stat().st_mode) == 0o600
    assert path.read_bytes() == before  # nothing was written to the damaged file

    # asked again: still refused, no second copy
    assert history(path).returncode == 2
    assert sorted(tmp_path.glob("journal.sqlite3.damaged-*")) == copies


def test_the_library_raises_the_damaged_error_with_the_open_sales(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    a_day(path)
    zero_pages_of(path, "sale_events")
    with pytest.raises(JournalDamagedError) as info:
        Journal(path)
    assert [s["reference"] for s in info.value.open_sales] == ["t_open-1", "t_open-2"]
    assert info.value.copy is not None and Path(info.value.copy).exists()


def test_a_sound_journal_opens_and_a_newer_one_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    a_day(path)
    Journal(path).close()  # quick_check passes on a sound file
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalOpenError, match="newer than this cryptopos"):
        Journal(path)
    assert path.read_bytes() == before
    done = history(path)
    assert done.returncode == 2 and "written by a newer cryptopos" in done.stderr


def test_an_existing_0644_journal_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    a_day(path)
    os.chmod(path, 0o644)
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

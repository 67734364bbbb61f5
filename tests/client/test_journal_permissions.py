"""The journal holds offline payloads until forwarded: it and its -wal/-shm are owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from terminal.journal import Journal


def test_journal_and_its_wal_files_are_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "j.sqlite3"
        j = Journal(path)
        j.open_sale(reference="r1", idempotency_key="k1", fiat_minor=100, fiat_currency="EUR", asset="BTC")
        j.queue_offline("r1", payload="secret-payload", payload_kind="test_card")
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files)
        for f in files:
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        j.close()
    finally:
        os.umask(old)

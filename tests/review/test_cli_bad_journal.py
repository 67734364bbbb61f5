"""A journal file that is not a database is a clear configuration error, not an 'unexpected error'."""

from __future__ import annotations

from pathlib import Path

import pytest

from terminal.cli import main


@pytest.mark.parametrize("command", [["history"], ["report"], ["reconcile"], ["refund", "pay_1"]])
def test_a_corrupt_journal_is_named_with_a_fix(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "journal.sqlite3"
    bad.write_bytes(b"this is not an SQLite file, it was overwritten\n" * 100)
    code = main([*command, "--journal", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unexpected error" not in err
    assert str(bad) in err
    assert "not a database" in err
    # nothing was lost: the file is left as it was for a person to look at
    assert bad.read_bytes().startswith(b"this is not an SQLite file")


def test_a_directory_as_journal_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["history", "--journal", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unexpected error" not in err
    assert str(tmp_path) in err

"""Readers fail fast: a device that is not there, or a file that does not exist, ends ``pay``
and ``read`` with exit 2 and doctor's hint before any quote, instead of a customer waiting out
the payment window; a camera file that does not exist is an error that fits a file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from drivers.events import ReaderState
from drivers.registry import Probe
from terminal.cli import main
from terminal.journal import Journal
from tests.drivers.test_camera import reading


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def no_usb_reader() -> bool:
    from drivers.nfc import list_usb_readers

    return not list_usb_readers()


@pytest.mark.parametrize(
    ("device", "detail", "hint"),
    [
        ("camera:file:/nonexistent.avi", "/nonexistent.avi: no such file", "check the path"),
        ("camera:7", "camera 7 cannot be opened", "/dev/video"),
        pytest.param(
            "nfc:usb",
            "no NFC reader found at usb",
            "plug the reader in",
            marks=pytest.mark.skipif(not no_usb_reader(), reason="an NFC reader is plugged in here"),
        ),
    ],
)
def test_pay_with_a_reader_that_is_not_there_exits_2_before_any_quote(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, device: str, detail: str, hint: str
) -> None:
    journal = tmp_path / "journal.sqlite3"
    started = time.monotonic()
    code, out, err = run(
        capsys, "pay", "--amount", "4.50", "--reader", device, "--journal", str(journal), "--wait", "3"
    )
    elapsed = time.monotonic() - started
    assert code == 2, out + err
    assert f"reader {device}: {detail}" in err and hint in err.split("fix:", 1)[1]
    # before any quote: nothing was journaled, so nothing was asked of the backend
    if journal.exists():
        j = Journal(journal)
        try:
            assert j.sales() == []
        finally:
            j.close()
    assert elapsed < 3, elapsed  # not the payment window (3 s here, 120 s by default)


def test_read_of_a_file_that_does_not_exist_says_so_and_ends(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "read", "--reader", "camera:file:/nonexistent.avi", "--once")
    assert code == 2
    assert "/nonexistent.avi: no such file" in err and "check the path" in err
    assert "/dev/video" not in err and "disconnected" not in err


def test_a_camera_file_that_does_not_exist_is_an_error_that_fits_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.avi"
    with reading(f"camera:file:{missing}?reconnect=0.05") as (_, events):
        assert events.wait(lambda _: ReaderState.ENDED in events.states(), timeout=5)
        time.sleep(0.2)  # a reconnecting reader would report again
    (err,) = events.errors()
    assert err.code == "file_missing" and err.title == "Video not found"
    assert err.message == f"{missing}: no such file"
    assert "check the path" in err.hint and "/dev/video" not in err.hint
    assert ReaderState.DISCONNECTED not in events.states()


def test_preflight_gives_up_on_a_probe_that_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    from drivers import registry
    from drivers.registry import preflight

    release = threading.Event()

    def probe(device: str) -> Probe:
        if device == "sim:qr":
            release.wait(10)  # a driver stuck in its open call
        return Probe(device, True, "fine")

    monkeypatch.setattr(registry, "probe_device", probe)
    try:
        probes = preflight(["sim:nfc", "sim:qr"], timeout_s=0.3)
    finally:
        release.set()
    assert [(p.device, p.ok) for p in probes] == [("sim:nfc", True), ("sim:qr", False)]
    assert probes[1].detail == "did not answer within 0.3 s"
    assert "cryptopos doctor" in probes[1].hint

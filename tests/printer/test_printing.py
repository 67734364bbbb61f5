"""Printing for real over a TCP connection to a loopback "printer" (and into a file): the bytes it
received are decoded back into the receipt's text, its QR code (native GS ( k, or a raster image
read by the project's own QR decoder) and the cut. Printer faults are notices with a next step."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.printer import PrinterNotReadyError, open_printer
from drivers.printer.decode import QrSymbol, Raster, StatusQuery
from terminal.config import load_settings
from terminal.printing import PrintFailedError, print_receipt, receipt_ops
from tests.printer.fake_printer import FakePrinter
from tests.printer.helpers import decode_qr, read_back, sample_receipt

MakePrinter = Callable[..., FakePrinter]


def row(key: str, value: str, columns: int = 42) -> str:
    """A printed line: the key on the left, the value on the right."""
    return key + value.rjust(columns - len(key))


def settings(**printer: str) -> object:
    env = {f"CRYPTOPOS_PRINTER__{k.upper()}": v for k, v in printer.items()}
    return load_settings(env=env).settings


def test_a_receipt_printed_on_a_network_printer_reads_back(fake_printer: MakePrinter) -> None:
    fp = fake_printer()
    receipt = sample_receipt()
    result = print_receipt(receipt, settings(device=fp.device, qr="native"))  # type: ignore[arg-type]
    [job] = fp.wait_jobs(1)
    assert result.bytes_sent == len(job) and result.warnings == ()
    assert fp.queries == [1, 2, 4]  # status asked before printing
    out = read_back(job)
    lines = [line.strip() for line in out.lines]
    assert lines[:3] == ["Demo Café", "terminal t_demo_01", "2026-11-18 11:06:40 UTC"]
    assert row("Sale", "4.09 EUR") in out.lines and row("Tip", "0.41 EUR") in out.lines
    assert row("TOTAL", "4.50 EUR") in out.lines
    assert row("Paid", "0.00004512 BTC") in out.lines
    assert row("Rate", "99734.12 EUR/BTC") in out.lines
    assert "APPROVED" in lines and row("Payment", "pay_5f1c2a9e0b7d4c3e8a61") in out.lines
    assert out.qr_codes == [receipt.link]
    [qr] = [i for i in out.items if isinstance(i, QrSymbol)]
    assert (qr.ec, qr.module, qr.align) == ("M", 6, "center")
    assert out.cuts and out.items[-1] == out.cuts[0]  # cut once, at the end
    assert not out.rasters


def test_the_raster_fallback_prints_a_qr_image_the_project_decoder_reads(fake_printer: MakePrinter) -> None:
    fp = fake_printer()
    receipt = sample_receipt()
    print_receipt(receipt, settings(device=fp.device, qr="raster"))  # type: ignore[arg-type]
    out = read_back(fp.wait_jobs(1)[0])
    assert out.qr_codes == []  # no GS ( k: the printer is sent an image
    [image] = out.rasters
    assert image.width <= 42 * 12  # within the paper (default profile: 42 columns of 12 dots)
    assert decode_qr(image) == [receipt.link]
    assert len(out.cuts) == 1


@pytest.mark.parametrize(("profile", "native"), [("TM-T88V", True), ("POS-5890", False), ("ZJ-5870", False)])
def test_auto_picks_native_qr_where_the_profile_has_it(profile: str, native: bool, tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    cfg = settings(device=f"printer:file:{path}", profile=profile)
    print_receipt(sample_receipt(), cfg)  # type: ignore[arg-type]
    out = read_back(path.read_bytes(), profile)
    assert bool(out.qr_codes) is native and bool(out.rasters) is not native
    if not native:
        [image] = out.rasters
        assert image.width <= 384  # 58 mm paper
        assert decode_qr(image) == [sample_receipt().link]
    # 58 mm profiles have 32 columns: the layout follows the profile
    width = 32 if profile != "TM-T88V" else 42
    assert max(len(line) for line in out.lines) == width


def test_a_file_printer_gets_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "lp0"
    result = print_receipt(sample_receipt(), settings(device=f"printer:file:{path}"))  # type: ignore[arg-type]
    data = path.read_bytes()
    assert result.bytes_sent == len(data)
    out = read_back(data)
    assert "Demo Café" in out.lines and out.qr_codes == [sample_receipt().link] and len(out.cuts) == 1
    assert not any(isinstance(i, StatusQuery) for i in out.items)  # a file cannot answer


def test_printer_none_is_a_notice_saying_what_to_set() -> None:
    with pytest.raises(PrintFailedError) as info:
        print_receipt(sample_receipt(), settings(device="printer:none"))  # type: ignore[arg-type]
    assert info.value.title == "No receipt printer" and "printer:net:" in info.value.hint


def closed_port() -> int:
    """A loopback port nothing listens on: the printer is switched off."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_a_notice_with_a_next_step() -> None:
    port = closed_port()
    t0 = time.monotonic()
    with pytest.raises(PrintFailedError) as info:
        print_receipt(sample_receipt(), settings(device=f"printer:net:127.0.0.1:{port}"))  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 2
    exc = info.value
    assert exc.title == "Printer not reachable"
    assert f"127.0.0.1:{port}" in exc.message and "refused" in exc.message.lower()
    assert "nothing was printed" in exc.message and "then print again" in exc.hint


@pytest.mark.parametrize(
    ("status", "title", "hint"),
    [
        ({1: 0x1A, 2: 0x32, 4: 0x72}, "Printer paper out", "new paper roll"),
        ({1: 0x1A, 2: 0x16, 4: 0x12}, "Printer cover open", "close the printer's cover"),
        ({1: 0x1A, 2: 0x12, 4: 0x12}, "Printer offline", "check the printer"),
    ],
)
def test_a_printer_reporting_a_fault_gets_no_receipt_and_the_cashier_a_next_step(
    fake_printer: MakePrinter, status: dict[int, int], title: str, hint: str
) -> None:
    fp = fake_printer(status)
    with pytest.raises(PrintFailedError) as info:
        print_receipt(sample_receipt(), settings(device=fp.device))  # type: ignore[arg-type]
    assert info.value.title == title and hint in info.value.hint
    assert "nothing was printed" in info.value.message
    assert fp.wait_jobs(1) == [b""]  # asked its status, then sent nothing


def test_the_driver_error_keeps_the_status_it_read(fake_printer: MakePrinter) -> None:
    fp = fake_printer({1: 0x1A, 2: 0x36, 4: 0x72})
    with pytest.raises(PrinterNotReadyError) as info:
        open_printer(fp.device).print(receipt_ops(sample_receipt(), columns=42))
    assert info.value.status.problems == ("paper out", "cover open")


def test_paper_low_prints_and_warns(fake_printer: MakePrinter) -> None:
    fp = fake_printer({1: 0x12, 2: 0x12, 4: 0x1E})
    result = print_receipt(sample_receipt(), settings(device=fp.device))  # type: ignore[arg-type]
    assert result.warnings == ("paper low",)
    assert read_back(fp.wait_jobs(1)[0]).qr_codes == [sample_receipt().link]


def test_a_printer_that_never_reports_status_still_prints(fake_printer: MakePrinter) -> None:
    fp = fake_printer(answers=False)
    t0 = time.monotonic()
    result = print_receipt(sample_receipt(), settings(device=fp.device + "?timeout=0.3"))  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 2  # one short wait for the first status reply, not one per query
    assert fp.queries == [1] and result.warnings == ()
    assert len(read_back(fp.wait_jobs(1)[0]).cuts) == 1


def test_status_off_asks_nothing(fake_printer: MakePrinter) -> None:
    fp = fake_printer({1: 0x1A, 2: 0x32, 4: 0x72})  # would refuse, but is not asked
    print_receipt(sample_receipt(), settings(device=fp.device + "?status=off"))  # type: ignore[arg-type]
    assert fp.queries == [] and read_back(fp.wait_jobs(1)[0]).cuts


def test_a_raster_image_decodes_row_by_row() -> None:
    image = Raster(1, 2, bytes([0b1000_0001, 0b0100_0000]))
    assert image.rows() == [
        [True, False, False, False, False, False, False, True],
        [False, True, False, False, False, False, False, False],
    ]


def test_doctor_asks_the_printer(fake_printer: MakePrinter, tmp_path: Path) -> None:
    from drivers.printer import probe_printer

    assert probe_printer(fake_printer().device).detail == "ready"
    out = probe_printer(fake_printer({1: 0x1A, 2: 0x32, 4: 0x72}).device)
    assert not out.ok and out.detail == "the printer reports: paper out" and "paper roll" in out.hint
    refused = probe_printer(f"printer:net:127.0.0.1:{closed_port()}")
    assert not refused.ok and "refused" in refused.detail.lower()
    assert probe_printer(f"printer:file:{tmp_path / 'out.bin'}").ok
    assert not probe_printer("printer:file:/nonexistent-dir/out.bin").ok
    none = probe_printer("printer:none")
    assert none.ok and "[printer] device" in none.hint
    assert not probe_printer("printer:fax:1").ok

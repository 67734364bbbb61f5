"""Printer device strings: every kind parses, anything else is a clear error listing the known
ones, and nothing of python-escpos is imported until a receipt is encoded or printed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drivers.printer import (
    KNOWN,
    DeviceStringError,
    NoPrinter,
    NoPrinterError,
    UnknownProfileError,
    open_printer,
    parse_printer_string,
)
from drivers.printer.ops import Line
from terminal.config import ConfigError, load_settings


def test_every_kind_parses_with_its_defaults() -> None:
    net = parse_printer_string("printer:net:192.168.1.50")
    assert (net.kind, net.target, net.port, net.timeout_s, net.asks_status) == (
        "net",
        "192.168.1.50",
        9100,
        5.0,
        True,
    )
    assert parse_printer_string("printer:net:till-printer.local:9101").port == 9101
    v6 = parse_printer_string("printer:net:[fe80::1]:9100")
    assert (v6.target, v6.port, v6.where) == ("fe80::1", 9100, "[fe80::1]:9100")
    usb = parse_printer_string("printer:usb:04b8:0202?in_ep=81&out_ep=03&timeout=2")
    assert (usb.vendor, usb.product, usb.options) == (
        0x04B8,
        0x0202,
        {"in_ep": 0x81, "out_ep": 3, "timeout": 2.0},
    )
    serial = parse_printer_string("printer:serial:/dev/ttyUSB0?baudrate=19200&status=off")
    assert (serial.target, serial.options["baudrate"], serial.asks_status) == ("/dev/ttyUSB0", 19200, False)
    file = parse_printer_string("printer:file:/dev/usb/lp0")
    assert (file.kind, file.target, file.asks_status) == ("file", "/dev/usb/lp0", False)
    assert parse_printer_string("printer:none").kind == "none"


@pytest.mark.parametrize(
    ("device", "says"),
    [
        ("printer:bluetooth:AA:BB", "unknown printer kind 'bluetooth'"),
        ("escpos:net:1.2.3.4", "unknown printer 'escpos:net:1.2.3.4'"),
        ("printer", "unknown printer 'printer'"),
        ("printer:net:", "needs a host"),
        ("printer:net:1.2.3.4:99999", "port '99999'"),
        ("printer:net:1.2.3.4:http", "port 'http'"),
        ("printer:net:fe80::1", "IPv6 address goes in brackets"),
        ("printer:usb:4b8:202", "VID:PID, 4 hex digits"),
        ("printer:usb:zzzz:0202", "VID:PID, 4 hex digits"),
        ("printer:serial:", "needs a serial port"),
        ("printer:file:", "needs a file path"),
        ("printer:none:x", "takes nothing after it"),
        ("printer:net:1.2.3.4?colour=red", "unknown option 'colour'"),
        ("printer:net:1.2.3.4?timeout=-1", "bad value '-1' for option 'timeout'"),
        ("printer:serial:/dev/ttyS0?baudrate=1234", "bad value '1234' for option 'baudrate'"),
        ("printer:file:out.bin?status=on", "unknown option 'status'"),
    ],
)
def test_bad_device_strings_say_what_is_wrong_and_what_is_known(device: str, says: str) -> None:
    with pytest.raises(DeviceStringError) as info:
        parse_printer_string(device)
    message = str(info.value)
    assert says in message
    if says.startswith("bad value"):
        assert "expected" in message  # what a good value looks like
    elif "option" in says:
        assert "known options:" in message
    else:
        assert all(k in message for k in KNOWN)


def test_printer_none_prints_nothing_and_says_what_to_set() -> None:
    printer = open_printer("printer:none")
    assert isinstance(printer, NoPrinter) and printer.columns == 42
    with pytest.raises(NoPrinterError) as info:
        printer.print([Line("x")])
    assert info.value.title == "No receipt printer" and "[printer] device" in info.value.hint


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProfileError, match=r"unknown printer profile 'TM-X'.*TM-T88V"):
        open_printer("printer:file:/dev/null", profile="TM-X")


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_drivers_and_checking_a_printer_loads_no_printer_library() -> None:
    mods = loaded_after(
        "import drivers, drivers.printer; drivers.printer.check_printer_string('printer:net:1.2.3.4');"
        " drivers.printer.open_printer('printer:none'); import terminal.printing, terminal.cli.receipt"
    )
    assert not {m for m in mods if m.split(".")[0] in ("escpos", "usb", "serial", "PIL", "barcode")}
    # and the check can fail: encoding loads it
    assert "escpos" in loaded_after("from drivers.printer.encode import encode; encode([])")


def test_python_escpos_imports_leave_no_log_handler_behind() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "import logging; from drivers.printer.encode import encode; encode([]);"
            " print(len(logging.getLogger().handlers))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0" and out.stderr == ""


def test_the_printer_section_is_validated_with_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(
            env={
                "CRYPTOPOS_PRINTER__DEVICE": "printer:lpt:1",
                "CRYPTOPOS_PRINTER__PROFILE": "TM-NOPE",
                "CRYPTOPOS_PRINTER__QR": "halftone",
                "CRYPTOPOS_PRINTER__COLUMNS": "8",
                "CRYPTOPOS_PRINTER__PAPER": "80mm",
            }
        )
    text = str(info.value)
    assert "5 problems" in text
    assert "printer.device: unknown printer kind 'lpt'" in text
    assert "printer.profile: unknown printer profile 'TM-NOPE'" in text
    assert "printer.qr:" in text and "printer.columns: a receipt needs at least 16 columns" in text
    assert "printer.paper: unknown key; known keys in [printer]: device, profile, qr, columns" in text
    ok = load_settings(
        env={"CRYPTOPOS_PRINTER__DEVICE": "printer:net:10.0.0.9", "CRYPTOPOS_PRINTER__PROFILE": "TM-T20II"}
    )
    assert ok.settings.printer.device == "printer:net:10.0.0.9" and ok.settings.printer.profile == "TM-T20II"

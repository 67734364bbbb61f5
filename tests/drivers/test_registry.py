"""Device strings: lazy imports, clear errors, named extras."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drivers import DeviceStringError, open_reader
from drivers.registry import check_device_string


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_and_checking_every_family_loads_no_driver_library() -> None:
    code = (
        "import sys, drivers\n"
        "from drivers.registry import check_device_string as c\n"
        "for d in ['nfc:usb', 'nfc:udp:localhost:5', 'camera:0', 'camera:file:x.avi', 'camera:image:a.png',"
        " 'sim:nfc?card=boltcard', 'sim:qr']: c(d)\n"
        "bad = [m for m in ('nfc', 'cv2', 'numpy', 'pyzbar', 'zxingcpp', 'terminal') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "device", "extra"),
    [("nfc", "nfc:usb", "cryptopos[nfc]"), ("cv2", "camera:0", "cryptopos[camera]")],
)
def test_missing_library_names_the_extra(module: str, device: str, extra: str) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from drivers import open_reader, MissingExtraError\n"
        f"try:\n    open_reader({device!r})\nexcept MissingExtraError as e:\n    print(e)\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert extra in out.stdout


@pytest.mark.parametrize(
    ("device", "words"),
    [
        ("bluetooth:0", ["nfc:usb", "camera:file:PATH", "sim:nfc"]),
        ("nfc:pcsc", ["nfc:usb", "nfc:tty:PORT:DRIVER", "nfc:udp:HOST:PORT"]),
        ("nfc:usb?speed=9", ["unknown option 'speed'", "debounce", "retry", "targets"]),
        ("nfc:usb?targets=106X", ["106X", "106A"]),
        ("nfc:udp:localhost", ["nfc:udp:HOST:PORT"]),
        ("nfc:tty:USB0", ["nfc:tty:PORT:DRIVER"]),
        ("camera:webcam", ["camera:INDEX", "camera:file:PATH", "camera:image:PATH"]),
        ("camera:0?decoder=quirc", ["zxing", "pyzbar", "cv2"]),
        ("camera:file:a.avi?fps=3", ["unknown option 'fps'", "decoder", "dedup"]),
        ("camera:0?dedup=-1", [">= 0"]),
        ("sim:nfc?card=visa", ["boltcard", "wallet", "tag"]),
        ("sim:radio", ["sim:nfc", "sim:qr"]),
    ],
)
def test_unknown_schemes_and_options_list_the_known_ones(device: str, words: list[str]) -> None:
    with pytest.raises(DeviceStringError) as info:
        check_device_string(device)
    for w in words:
        assert w in str(info.value)


def test_open_rejects_unknown_keyword_options() -> None:
    with pytest.raises(DeviceStringError, match="known: accept"):
        open_reader("camera:0", colour=True)
    with pytest.raises(DeviceStringError, match="debounce"):
        open_reader("nfc:usb", colour=True)

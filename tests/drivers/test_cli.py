"""``cryptopos read``, ``scan`` and ``doctor`` end to end (in-process ``main``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import pytest

from drivers.camera import synth
from drivers.nfc import cards
from drivers.nfc.emulator import Tap
from terminal.cli import main

BIP21 = synth.PAYLOADS["bip21"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_read_prints_json_lines_for_each_bolt_card_tap(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "read", "--reader", "sim:nfc?card=boltcard&count=2&delay=0", "--timeout", "1", "--json"
    )
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0
    assert [x["kind"] for x in lines] == ["tag", "tag"]
    assert all(x["payload"].startswith("lnurlw://card.example.com/ln?p=") for x in lines)
    assert lines[0]["payload"] != lines[1]["payload"]
    assert {x["uid"] for x in lines} == {"04996C6A926980"}
    assert all({"parsed", "parse_error", "elapsed_ms", "reader"} <= set(x) for x in lines)
    assert [x["parsed"]["kind"] for x in lines] == ["boltcard", "boltcard"]
    assert lines[0]["ndef"]["records"][0]["uri"] == lines[0]["payload"]


def test_read_agrees_with_pay_on_what_a_customer_can_present(capsys: pytest.CaptureFixture[str]) -> None:
    # the demo card pay takes is not "not a payment"; a receive address pay refuses says so
    code, out, _ = run(capsys, "read", "--reader", "sim:nfc", "--once")
    assert code == 0 and "not a payment" not in out
    assert "a test card of the emulated backend (test mode): pay takes it" in out
    code, out, _ = run(capsys, "read", "--reader", "sim:nfc", "--once", "--json")
    view = json.loads(out)
    assert view["pays"] is True and view["refusal"] is None and view["test_mode"] is True
    receive = "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    code, out, _ = run(capsys, "read", "--reader", f"sim:qr?payload={receive}", "--once")
    assert (
        code == 0 and "pay refuses it: the customer showed a bitcoin code, which asks to receive money" in out
    )
    code, out, _ = run(capsys, "read", "--reader", "sim:nfc?card=boltcard&delay=0", "--once", "--json")
    assert json.loads(out)["pays"] is True and json.loads(out)["test_mode"] is False


def test_read_once_from_a_real_nfcpy_reader(
    capsys: pytest.CaptureFixture[str], emulator: Any, udp_port: int
) -> None:
    url = "lnurlw://card.example.com/ln?p=00&c=11"
    emulator("isodep", [Tap(card=cards.type4_tag(cards.ndef_message(url)))])
    code, out, err = run(
        capsys, "read", "--reader", f"nfc:udp:localhost:{udp_port}?targets=106A", "--once", "--timeout", "10"
    )
    assert code == 0, err
    assert out.startswith(f"tag  {url}  uid 04996C6A926980")
    assert "ready" in err


def test_read_reports_reader_errors_and_exits_1_when_nothing_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"card": "tag", "ndef_hex": "d101ff5500", "delay": 0}]))
    code, out, _ = run(capsys, "read", "--reader", f"sim:nfc?script={script}", "--timeout", "0.5", "--json")
    assert code == 1
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["error"] == "ndef_malformed" and line["title"] == "Unreadable card"


def test_read_with_a_bad_device_string_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "read", "--reader", "nfc:bluetooth")
    assert code == 2
    assert "nfc:usb" in err and "Traceback" not in err


def test_scan_reports_payloads_per_file_and_time_to_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    frames = [synth.frame(1280, 720, None, seed=i) for i in range(2)]
    frames += [synth.frame(1280, 720, "https://shop.example/loyalty/123", seed=i) for i in range(2)]
    frames += [synth.frame(1280, 720, BIP21, synth.CASES["perspective"], seed=i) for i in range(4)]
    video = synth.write_video(tmp_path / "clip.avi", frames)
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), synth.frame(640, 480, None))
    code, out, _ = run(capsys, "scan", str(video), str(empty), str(tmp_path / "missing.avi"), "--json")
    assert code == 1  # one file had no payload, one is missing
    clip, blank, missing = (json.loads(x) for x in out.splitlines())
    assert [p["payload"] for p in clip["payloads"]] == [BIP21]
    assert clip["payloads"][0]["parsed"]["kind"] == "bitcoin"
    assert clip["payloads"][0]["parsed"]["amount"] == "0.00014087"
    (other,) = clip["other_codes"]
    assert other["payload"] == "https://shop.example/loyalty/123" and other["parse_error"]["code"]
    assert clip["first_payload_frame"] == 4 and clip["first_payload_ms"] > 0 and clip["frames"] == 8
    assert blank["payloads"] == [] and blank["frames"] == 1
    assert "no such file" in missing["error"]


def test_scan_with_each_decoder_and_an_unknown_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    still = tmp_path / "code.png"
    cv2.imwrite(str(still), synth.frame(1280, 720, BIP21))
    for name in ("zxing", "pyzbar", "cv2"):
        code, out, _ = run(capsys, "scan", str(still), "--decoder", name)
        assert code == 0 and BIP21 in out
    code, _, err = run(capsys, "scan", str(still), "--decoder", "quirc")
    assert code == 2 and "zxing, pyzbar, cv2" in err


def test_doctor_is_happy_with_sim_readers_and_the_embedded_backend(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "doctor", "--reader", "sim:nfc", "--backend", "embedded", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"]
    assert report["backend"]["versions"]["payments"]
    assert report["decoders"]["decoders"]["zxing"] == "ok"
    assert report["decoders"]["libzbar"]


def test_doctor_names_each_problem_with_a_fix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "doctor",
        "--reader",
        "camera:7",
        "--reader",
        f"camera:file:{tmp_path / 'nope.avi'}",
        "--backend",
        "http://127.0.0.1:9",
    )
    assert code == 1
    assert "FAIL camera:7: camera 7 cannot be opened" in out
    assert out.count("fix:") >= 3  # two readers and the backend
    assert "Not ready" in out

"""Startup of the merchant TUI: process start to an interactive amount screen.

Runs ``cryptopos tui --demo``'s app headless in a fresh interpreter several times and
prints the median and worst time from ``exec`` to the moment the amount screen is up and
taking keys (Textual's auto-pilot hook runs then), plus which heavy libraries were
imported by then (nfcpy and OpenCV must not be: they load when a reader opens).

    .venv/bin/python bench/startup.py [--runs 7] [--write]

``--write`` records the figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench/startup.py begin -->", "<!-- bench/startup.py end -->"
INTRO = """## TUI startup (bench/startup.py)

`.venv/bin/python bench/startup.py [--runs N] [--write]` starts the demo TUI (embedded backend,
simulated readers) headless in a fresh interpreter N times and times spawning it to the moment the
amount screen has taken a key press (Textual's auto-pilot hook). The target is under a second.
nfcpy and OpenCV are imported only when a reader opens; the embedded backend (FastAPI) is built
after the first paint, in a thread; the payload parsers load on first use.
"""
HEAVY = ("cv2", "nfc", "pyzbar", "zxingcpp", "numpy", "fastapi", "backend_stub", "httpx")

CHILD = r"""
import sys, time, json, tempfile
from pathlib import Path
from terminal.config import load_settings
from terminal.tui import DEMO_READERS, build_app

tmp = tempfile.mkdtemp(prefix="cryptopos-bench-")
loaded = load_settings(overrides={
    "backend.url": ("embedded", "bench"),
    "journal.path": (str(Path(tmp) / "journal.sqlite3"), "bench"),
    "terminal.readers": (list(DEMO_READERS), "bench"),
})
app = build_app(loaded, demo=True)

async def ready(pilot):
    at = time.perf_counter()
    screen = type(pilot.app.screen).__name__
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    await pilot.press("1")  # it takes a key
    taken = pilot.app.screen.keypad.text
    print("READY " + json.dumps({"at": at, "screen": screen, "heavy": heavy, "typed": taken}), flush=True)
    pilot.app.exit()

app.run(headless=True, size=(80, 24), auto_pilot=ready)
"""


def one_run() -> dict[str, object]:
    """Seconds from spawning the interpreter to the READY line (the amount screen took a key)."""
    code = f"HEAVY = {HEAVY!r}\n" + CHILD
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    line = ""
    for line in proc.stdout:
        if line.startswith("READY "):
            break
    ready = time.perf_counter() - started
    try:
        rest, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit("the TUI did not exit") from None
    if proc.returncode != 0 or not line.startswith("READY "):
        raise SystemExit(f"the TUI did not start:\n{line}{rest}\n{err}")
    return {"ready_s": ready, "total_s": time.perf_counter() - started, **json.loads(line[6:])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="record in docs/BENCHMARKS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    runs = [one_run() for _ in range(args.runs)]
    for r in runs:
        if r["screen"] != "AmountScreen" or r["typed"] != "1":
            raise SystemExit(f"the first screen was not an interactive amount screen: {r}")
    ready = [float(str(r["ready_s"])) for r in runs]
    total = [float(str(r["total_s"])) for r in runs]
    heavy = sorted({m for r in runs for m in r["heavy"]})  # type: ignore[attr-defined]
    print(f"TUI startup over {args.runs} runs (Python {sys.version.split()[0]})")
    print(
        f"  spawn -> amount screen took a key: median {statistics.median(ready):.3f} s,"
        f" max {max(ready):.3f} s (target < 1 s)"
    )
    print(f"  spawn -> exited: median {statistics.median(total):.3f} s")
    print(f"  heavy modules loaded by then: {', '.join(heavy) or 'none'}")
    print(f"  load average before the runs: {load_before:.2f} on {os.cpu_count()} cores")
    if args.write:
        path = REPO / "docs" / "BENCHMARKS.md"
        text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
        figures = (
            f"{BEGIN}\n"
            f"{args.runs} runs, Python {sys.version.split()[0]}: spawn to an amount screen that took a key, "
            f"median {statistics.median(ready):.3f} s, max {max(ready):.3f} s; to exit, median "
            f"{statistics.median(total):.3f} s. Loaded by then: {', '.join(heavy) or 'none'}. "
            f"Load average {load_before:.2f} on {os.cpu_count()} cores (other work was running).\n"
            f"{END}"
        )
        if BEGIN in text and END in text:
            text = text[: text.index(BEGIN)] + figures + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip("\n") + "\n\n" + INTRO + "\n" + figures + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"  written to {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()

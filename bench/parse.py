"""Parses per second of ``parse_payload`` for each payload kind (valid samples), plus garbage.

    python bench/parse.py [--seconds S] [--write]

Prints one line per kind. ``--write`` also puts the table into docs/BENCHMARKS.md (between
markers, other sections untouched). Figures only; nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time

from _benchmarks_md import write_section

from terminal.domain.payloads import PayloadError, parse_payload, verify_sun
from terminal.domain.payloads.samples import CORPUS

GARBAGE = [
    "hello world",
    "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9U",
    "lnbc1qqqqqq",
    "https://example.com/",
    "x" * 500,
]


def rate(texts: list[str], seconds: float) -> tuple[float, float]:
    """(parses per second, median microseconds) over ``seconds`` of wall time."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        for text in texts:
            t0 = time.perf_counter()
            with contextlib.suppress(PayloadError):
                parse_payload(text, now=1_700_000_000)
            samples.append(time.perf_counter() - t0)
            n += 1
    samples.sort()
    return n / sum(samples), samples[len(samples) // 2] * 1e6


def sun_rate(seconds: float) -> tuple[float, float]:
    k1 = bytes.fromhex("0c3b25d92b38ae443229dd59ad34b85d")
    k2 = bytes.fromhex("b45775776cb224c75bcde7ca3704e933")
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        verify_sun("4E2E289D945A66BB13377A728884E867", "E19CCB1FED8892CE", k1=k1, k2=k2)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return len(samples) / sum(samples), samples[len(samples) // 2] * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=0.5, help="time per kind (default 0.5)")
    ap.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    args = ap.parse_args()
    rows = [(kind, *rate(texts, args.seconds)) for kind, texts in CORPUS.items()]
    rows.append(("garbage (rejected)", *rate(GARBAGE, args.seconds)))
    rows.append(("boltcard verify_sun (AES + 2 CMAC)", *sun_rate(args.seconds)))
    lines = [
        f"parse_payload on {platform.python_implementation()} {platform.python_version()}, one thread",
        "",
        "| kind | parses/s | median µs |",
        "|---|---:|---:|",
        *(f"| {kind} | {per_s:,.0f} | {med:.1f} |" for kind, per_s, med in rows),
    ]
    print("\n".join(lines))
    if args.write:
        print(f"written to {write_section('parse.py', 'Payload parsing', lines)}")


if __name__ == "__main__":
    main()

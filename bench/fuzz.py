"""Differential fuzzing at scale: mutated payment strings through ``parse_payload``, counted.

    python bench/fuzz.py [--count N] [--seed S] [--write]

Feeds N mutations (default 1,000,000) from tests/payloads/fuzzing.py: plain character edits of
every kind of sample, and mutations aimed at each class of bad input (addresses, amounts, NDEF
framing, BOLT11 fields behind a fresh signature, look-alike hosts, address-less bitcoin: URIs).
Every accepted payload is judged by the independent reference code in tests/payloads/reference.py.

Prints parses per second (parsing only, the oracle not counted) and the counts: crashes (an
exception other than PayloadError), accepted-invalid by class, and slow inputs (a parse over
50 ms, timed again three times so that a busy machine's pause is not blamed on the input).
``--write`` puts the table into docs/BENCHMARKS.md between its markers. Figures only: nothing
here passes or fails; the tests do that (tests/payloads/test_differential.py).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fuzzer and its oracle live with the tests

from _benchmarks_md import write_section  # noqa: E402

from terminal.domain.payloads import PayloadError, parse_payload  # noqa: E402
from tests.payloads import fuzzing  # noqa: E402

SLOW_S = 0.050
EXAMPLES_KEPT = 3


def _timed(text: str) -> float:
    t0 = time.perf_counter()
    with contextlib.suppress(Exception):  # only the time matters: the first run counted the outcome
        parse_payload(text, now=1_700_000_000)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1_000_000, help="mutations to feed (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=2026, help="random seed (the same seed, the same inputs)")
    ap.add_argument("--write", action="store_true", help="write the table into docs/BENCHMARKS.md")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    aimed_total: collections.Counter[str] = collections.Counter()
    aimed_accepted: collections.Counter[str] = collections.Counter()
    invalid: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    crashes = slow = accepted = 0
    parse_s = oracle_s = 0.0
    progress = sys.stderr.isatty()
    started = time.perf_counter()
    for i in range(args.count):
        aimed, text = fuzzing.mutate(rng)
        aimed_total[aimed] += 1
        t0 = time.perf_counter()
        try:
            payload = parse_payload(text, now=1_700_000_000)
        except PayloadError:
            payload = None
        except Exception as exc:  # the one thing that must never happen: count it, keep going
            crashes += 1
            if len(examples["crash"]) < EXAMPLES_KEPT:
                examples["crash"].append(f"{text[:120]!r}: {exc!r}")
            payload = None
        elapsed = time.perf_counter() - t0
        parse_s += elapsed
        if elapsed > SLOW_S:
            elapsed = min(elapsed, *(_timed(text) for _ in range(3)))  # the machine, or the input?
        if elapsed > SLOW_S:
            slow += 1
            if len(examples["slow"]) < EXAMPLES_KEPT:
                examples["slow"].append(f"{text[:120]!r}: {elapsed * 1000:.0f} ms")
        if payload is not None:
            accepted += 1
            aimed_accepted[aimed] += 1
            t1 = time.perf_counter()
            for problem in fuzzing.violations(text, payload):
                cls = problem.partition(":")[0]
                invalid[cls] += 1
                if len(examples[cls]) < EXAMPLES_KEPT:
                    examples[cls].append(f"{text[:120]!r}: {problem}")
            oracle_s += time.perf_counter() - t1
        if progress and i and i % 50_000 == 0:
            print(f"  {i:,} inputs, {time.perf_counter() - started:.0f} s", file=sys.stderr)

    load = os.getloadavg()
    lines = [
        f"{args.count:,} mutations (seed {args.seed}) through parse_payload on "
        f"{platform.python_implementation()} {platform.python_version()}, one thread, "
        f"load average {load[0]:.1f} on {os.cpu_count()} cores while measured.",
        "",
        f"- parses/s: {args.count / parse_s:,.0f} (parsing only; {parse_s:.1f} s, "
        f"the reference oracle another {oracle_s:.1f} s)",
        f"- accepted: {accepted:,}; rejected with a PayloadError: {args.count - accepted - crashes:,}",
        f"- crashes (anything but PayloadError): {crashes}",
        f"- slow inputs (a parse over {SLOW_S * 1000:.0f} ms): {slow}",
        f"- accepted-invalid: {sum(invalid.values())}",
        "",
        "| class | mutations aimed at it | of those accepted | accepted-invalid of the class (any input) |",
        "|---|---:|---:|---:|",
        *(
            f"| {cls} | {aimed_total[cls]:,} | {aimed_accepted[cls]:,} | {invalid[cls]} |"
            for cls in fuzzing.CLASSES
        ),
        f"| character edits of any sample | {aimed_total['any']:,} | {aimed_accepted['any']:,} | (above) |",
    ]
    if examples:
        lines += ["", "Examples:"] + [f"- {cls}: {ex}" for cls, exs in examples.items() for ex in exs]
    print("\n".join(lines))
    if args.write:
        print(f"written to {write_section('fuzz.py', 'Differential payload fuzzing', lines)}")


if __name__ == "__main__":
    main()

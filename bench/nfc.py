"""NFC tap-to-event latency over nfcpy's udp driver: a Bolt Card tapped N times (default 100).

For each tap: *tap-to-event* runs from the moment the emulated card enters the field (the emulator
starts listening) to the reader's TagRead; *activation-to-event* from the reader activating the card
(RATS answered) to the TagRead, i.e. the ISO-DEP read itself (wallet SELECT, NDEF SELECT, CC, NDEF in
chunks). nfcpy's udp reader waits up to 1 s per poll for an answer, so a tap that lands just after a
poll started waits for the next one: the tap-to-event tail is the udp driver's, not a USB reader's.

    .venv/bin/python bench/nfc.py [--taps N] [--write]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

# the script's own folder would shadow nfcpy with this very file: put the repository root first
sys.path[0] = str(Path(__file__).resolve().parents[1])

from drivers import open_reader  # noqa: E402
from drivers.boltcard import BoltCard  # noqa: E402
from drivers.events import TagRead  # noqa: E402
from drivers.nfc import cards  # noqa: E402
from drivers.nfc.emulator import IsoDepEmulator, Tap  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- bench/nfc.py begin -->", "<!-- bench/nfc.py end -->"


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--taps", type=int, default=100)
    ap.add_argument("--write", action="store_true", help="write the figures to docs/BENCHMARKS.md")
    args = ap.parse_args()
    card = BoltCard(uid=bytes.fromhex("04996C6A926980"), k1=bytes(16), k2=bytes(16))
    tag = cards.bolt_card_tag(card)
    port = free_port()
    taps = [Tap(card=tag, hold=0.12, delay=0.05) for _ in range(args.taps)]
    reads: list[tuple[float, str]] = []
    lock = threading.Condition()

    def sink(e: object) -> None:
        if isinstance(e, TagRead):
            with lock:
                reads.append((e.at, e.payload))
                lock.notify_all()

    started = time.monotonic()
    with IsoDepEmulator(port, taps, listen_timeout=2.0) as emu:
        reader = open_reader(f"nfc:udp:localhost:{port}?targets=106A&debounce=0")
        reader.start(sink)
        try:
            with lock:
                lock.wait_for(lambda: len(reads) >= args.taps, timeout=args.taps * 3 + 10)
            emu.done.wait(5)
        finally:
            reader.stop()
    wall = time.monotonic() - started
    log = emu.log
    n = min(len(reads), len(log.present_at))
    # pair each read with the activation just before it
    tap_ms, act_ms = [], []
    for at, _ in reads:
        i = max((k for k, a in enumerate(log.activated_at) if a <= at), default=None)
        if i is None:
            continue
        tap_ms.append((at - log.present_at[i]) * 1000)
        act_ms.append((at - log.activated_at[i]) * 1000)
    counters = len({p for _, p in reads})
    lines = [
        f"{args.taps} taps of an emulated Bolt Card on nfcpy's udp driver; {len(reads)} TagRead events, "
        f"{counters} distinct SUN URLs, {log.activations} activations, {wall:.1f} s in all.",
        "",
        "| measure | median ms | p90 ms | max ms |",
        "|---|---|---|---|",
        f"| tap-to-event (card enters the field -> TagRead) | {statistics.median(tap_ms):.1f} | "
        f"{pct(tap_ms, 0.9):.1f} | {max(tap_ms):.1f} |",
        f"| activation-to-event (ISO-DEP read) | {statistics.median(act_ms):.1f} | "
        f"{pct(act_ms, 0.9):.1f} | {max(act_ms):.1f} |",
    ]
    _ = n
    print("\n".join(lines))
    if args.write:
        text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
        block = "\n".join([BEGIN, *lines, END])
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            text = head + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## NFC tap latency (bench/nfc.py)\n\n" + block + "\n"
        DOC.write_text(text)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()

"""QR decoding benchmark: decoders x resolutions x cases, and the full camera pipeline's frame rate.

Generates its corpus (drivers.camera.synth): 640x480, 1280x720, 1920x1080; clean, rotated,
perspective, mild blur, low contrast; the four payment payload shapes (BIP21, BOLT11, LNURL, EIP-681).
Prints, per decoder and resolution, median and p90 milliseconds per frame and the success rate, then
the pipeline (downscaled pass + full-resolution retry) on the same frames, then frames per second of
the camera reader on a 720p MJPG video with a payload in view. Runs pinned to one core.

    .venv/bin/python bench/qr.py [--seeds N] [--write]     # --write updates docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# the script's own folder would shadow nfcpy with this very file: put the repository root first
sys.path[0] = str(Path(__file__).resolve().parents[1])

from drivers.camera import synth  # noqa: E402
from drivers.camera.decoders import DECODERS, DEFAULT_DECODER, get_decoder  # noqa: E402
from drivers.camera.pipeline import ScanPipeline  # noqa: E402

RESOLUTIONS = [(640, 480, 0.35), (1280, 720, 0.25), (1920, 1080, 0.2)]  # code side as a share of width
DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- bench/qr.py begin -->", "<!-- bench/qr.py end -->"


def corpus(width: int, height: int, size: float, seeds: int) -> list[tuple[str, str, object]]:
    out = []
    for case, case_look in synth.CASES.items():
        look = dataclasses.replace(case_look, size=size)
        for shape, text in synth.PAYLOADS.items():
            for seed in range(seeds):
                # vary the position and angle a little so frames are not identical
                jitter = dataclasses.replace(
                    look,
                    center=(0.5 + 0.04 * ((seed % 3) - 1), 0.5 + 0.04 * ((seed % 2) * 2 - 1)),
                    angle=look.angle + 3 * seed,
                )
                out.append((case, text, synth.frame(width, height, text, jitter, seed=seed)))
                _ = shape
    return out


def texts_of(decoder: object) -> object:
    return lambda f: [r.text for r in decoder.decode(f) if r.valid]  # type: ignore[attr-defined]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(decode: object, frames: list[tuple[str, str, object]]) -> dict[str, object]:
    times, ok_by_case = [], {c: [0, 0] for c in synth.CASES}
    for case, text, frame in frames:
        t0 = time.perf_counter()
        got = decode(frame)  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
        ok_by_case[case][1] += 1
        ok_by_case[case][0] += int(text in got)
    ok = sum(v[0] for v in ok_by_case.values())
    return {
        "median": statistics.median(times),
        "p90": pct(times, 0.9),
        "rate": ok / len(frames),
        "by_case": {c: v[0] / v[1] for c, v in ok_by_case.items()},
    }


def pipeline_fps(seconds: float = 10.0) -> dict[str, float]:
    from drivers import open_reader
    from drivers.events import ReaderState, ReaderStateChanged

    n = int(30 * seconds)
    looks = [synth.CASES["rotated"], synth.CASES["perspective"], synth.CASES["clean"]]
    frames = [synth.frame(1280, 720, synth.PAYLOADS["bip21"], looks[i % 3], seed=i % 7) for i in range(n)]
    out: dict[str, float] = {}
    pipe = ScanPipeline(decoder=get_decoder(DEFAULT_DECODER), dedup_s=0)
    t0 = time.perf_counter()
    for f in frames:
        pipe.process(synth.to_bgr(f))
    out["pipeline_fps"] = n / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        video = synth.write_video(Path(tmp) / "720p.avi", frames, fps=30)
        for realtime in (False, True):
            ended = []
            reader = open_reader(f"camera:file:{video}?realtime={int(realtime)}")

            def sink(e: object, ended: list[object] = ended) -> None:
                if isinstance(e, ReaderStateChanged) and e.state == ReaderState.ENDED:
                    ended.append(e)

            t0 = time.perf_counter()
            cpu0 = time.process_time()
            reader.start(sink)
            while not ended and time.perf_counter() - t0 < seconds * 4:
                time.sleep(0.01)
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            reader.stop()
            st = reader.stats  # type: ignore[attr-defined]
            key = "realtime" if realtime else "unpaced"
            out[f"{key}_fps"] = st.frames / wall
            out[f"{key}_dropped"] = st.dropped
            out[f"{key}_frames"] = st.frames
            out[f"{key}_cpu_share"] = cpu / wall
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5, help="frames per case x payload shape (default 5)")
    ap.add_argument("--write", action="store_true", help="write the figures to docs/BENCHMARKS.md")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2

    cv2.setNumThreads(1)
    lines = [
        f"Frames: {len(synth.CASES)} cases x {len(synth.PAYLOADS)} payload shapes x {args.seeds} = "
        f"{len(synth.CASES) * len(synth.PAYLOADS) * args.seeds} per resolution; one core; grayscale input.",
        "",
        "| decoder | resolution | median ms | p90 ms | decoded | " + " | ".join(synth.CASES) + " |",
        "|---|---|---|---|---|" + "---|" * len(synth.CASES),
    ]
    for width, height, size in RESOLUTIONS:
        frames = corpus(width, height, size, args.seeds)
        rows: list[tuple[str, object]] = [(name, texts_of(get_decoder(name))) for name in DECODERS]
        pipe = ScanPipeline(decoder=get_decoder(DEFAULT_DECODER), dedup_s=0)
        rows.append((f"pipeline ({DEFAULT_DECODER})", lambda f, p=pipe: [p.process(f).accepted]))
        for name, fn in rows:
            m = measure(fn, frames)
            by_case = " | ".join(f"{v:.0%}" for v in m["by_case"].values())  # type: ignore[union-attr]
            where = f"{width}x{height} (code {size:.0%} of width)"
            line = f"| {name} | {where} | {m['median']:.1f} | {m['p90']:.1f} | {m['rate']:.1%} | {by_case} |"
            lines.append(line)
            print(line, flush=True)
    fps = pipeline_fps()
    lines += [
        "",
        "Camera pipeline on a 720p MJPG video (300 frames, payload in view), one core:",
        f"- pipeline alone (frames already decoded from the file): {fps['pipeline_fps']:.0f} frames/s",
        f"- reader, unpaced (MJPG decoding + pipeline, no dropping): {fps['unpaced_fps']:.0f} frames/s",
        f"- reader, paced at the file's 30 fps: {fps['realtime_fps']:.1f} frames/s decoded, "
        f"{fps['realtime_dropped']:.0f} dropped, CPU {fps['realtime_cpu_share']:.0%} of one core",
    ]
    for line in lines[-4:]:
        print(line)
    if args.write:
        write(lines)


def write(lines: list[str]) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = "\n".join([BEGIN, *lines, END])
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## QR decoders (bench/qr.py)\n\n" + block + "\n"
    DOC.write_text(text)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()

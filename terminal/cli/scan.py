"""``cryptopos scan PATH...``: decode QR codes in images, videos or image sequences.

Per file: the payment payloads found with their parse results, codes that are not payments, and
the processing time to the first payload. Exit codes: 0 every file had a payload, 1 a file had
none or could not be read, 2 usage (unknown decoder).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from drivers.camera.decoders import DECODERS, DEFAULT_DECODER  # names only: no decoder library
from terminal.cli.common import EXIT_FAILED, EXIT_OK, CliError
from terminal.cli.read import parse_view


def arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Decode QR codes in image files, videos or image patterns (frames/%04d.png)."
    p.add_argument("paths", nargs="+", metavar="PATH", help="image, video, or pattern like frames/%%04d.png")
    p.add_argument(
        "--decoder", default=DEFAULT_DECODER, help=f"one of {', '.join(DECODERS)} (default {DEFAULT_DECODER})"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per file")


def is_payment(text: str) -> bool:
    view = parse_view(text)
    return view["parse_error"] is None


def scan_one(path: str, decoder: str) -> dict[str, Any]:
    from drivers.camera import CameraError
    from drivers.camera.reader import scan_path

    try:
        report = scan_path(path, decoder=decoder, accept=is_payment)
    except CameraError as exc:
        return {"path": path, "error": exc.message, "payloads": []}
    return {
        "path": path,
        "frames": report.frames,
        "payloads": [{"payload": p, **parse_view(p)} for p in report.payloads],
        "other_codes": [{"payload": p, **parse_view(p)} for p in report.rejected],
        "first_payload_ms": None if report.first_ms is None else round(report.first_ms, 2),
        "first_payload_frame": report.first_frame,
        "total_ms": round(report.total_ms, 2),
        "decoder": decoder,
    }


def human(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['path']}: {r['error']}"
    lines = [
        f"{r['path']}: {len(r['payloads'])} payload(s) in {r['frames']} frame(s), {r['total_ms']:.0f} ms"
    ]
    for p in r["payloads"]:
        lines.append(f"  payload  {p['payload']}")
        parsed = p["parsed"]
        facts = [f"{k} {parsed[k]}" for k in ("kind", "network", "asset", "amount") if parsed.get(k)]
        lines.append(f"           {', '.join(facts)}")
    for p in r["other_codes"]:
        lines.append(f"  other    {p['payload']}")
        lines.append(f"           not a payment: {p['parse_error']['message']}")
    if r["first_payload_ms"] is not None:
        lines.append(
            f"  first payload after {r['first_payload_ms']:.1f} ms (frame {r['first_payload_frame']})"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from drivers.registry import DriverError
    from terminal.cli.progress import Progress

    if args.decoder not in DECODERS:
        raise CliError(f"unknown decoder {args.decoder!r}; known: {', '.join(DECODERS)}")
    shown = Progress("scanning")
    try:
        from drivers.camera import require_cv2

        require_cv2()
        results = []
        for done, path in enumerate(args.paths):
            shown.step(done, len(args.paths), path)
            results.append(scan_one(path, args.decoder))
        shown.step(len(args.paths), len(args.paths))
    except DriverError as exc:  # a missing extra or decoder library
        raise CliError(str(exc)) from None
    finally:
        shown.close()
    for r in results:
        print(json.dumps(r) if args.json else human(r))
    return EXIT_OK if all(r["payloads"] for r in results) else EXIT_FAILED

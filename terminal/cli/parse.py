"""``cryptopos parse TEXT|- [--json]``: classify and decode a scanned payment string.

Prints one JSON object with ``--json`` (``kind``, ``network``, ``asset``, ``amount``,
``amount_minor`` and the format's own fields) or aligned ``key: value`` lines. An invalid
payload exits 1 with ``{"error": {"code": ..., "message": ...}}``. An expired invoice or
token is decoded and reported (``expired: true``); refusing it is the payment flow's job.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from terminal.cli.common import EXIT_FAILED, EXIT_OK, CliError

_MAX_STDIN = 1 << 20


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", metavar="TEXT", help="the scanned string, or '-' to read it from stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _read(arg: str) -> str:
    if arg != "-":
        return arg
    data = sys.stdin.read(_MAX_STDIN + 1)
    if len(data) > _MAX_STDIN:
        raise CliError("stdin holds more than 1 MiB; that is not a payment payload")
    return data


def _lines(obj: dict[str, Any]) -> list[str]:
    width = max(len(k) for k in obj)
    out = []
    for key, value in obj.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append(f"{key:<{width}}  {shown}")
    return out


def run(args: argparse.Namespace) -> int:
    # the payloads package loads a format's parser (and its crypto) only for a payload of that format
    from terminal.domain.payloads import PayloadError, parse_payload, payload_to_json

    text = _read(args.text)
    try:
        payload = parse_payload(text, now=time.time())
    except PayloadError as exc:
        if args.json:
            print(json.dumps({"error": {"code": exc.code, "message": exc.message}}))
        else:
            print(f"invalid payload ({exc.code}): {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    obj = payload_to_json(payload)
    if args.json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        print("\n".join(_lines(obj)))
    return EXIT_OK

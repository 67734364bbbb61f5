"""``cryptopos read``: print what a reader reads, one line (or JSON object) per tag or code.

Each line carries the raw payload, the payload layer's parse (or its error), whether ``pay`` would
take it from a customer (``pays``, and ``refusal`` when not: the same check a sale makes, so the
emulator's test cards pay and a customer's receive address does not), the reader, the UID where
known, and the milliseconds the read took. Reader errors (card removed, garbage NDEF, a code
that is not a payment) go to stderr, or into the JSON stream with ``"error"``.
Exit codes: 0 something was read, 1 nothing was read before ``--timeout``, 2 a bad device string.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from typing import TYPE_CHECKING, Any

from terminal.cli.common import EXIT_FAILED, EXIT_OK, CliError, require_readers

if TYPE_CHECKING:
    from drivers import CodeScanned, ReaderEvent, TagRead


def arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Open one reader and print each tag/code it reads (raw and parsed payload)."
    p.add_argument("--reader", required=True, help="device string, e.g. nfc:usb, camera:0, sim:nfc")
    p.add_argument("--once", action="store_true", help="stop after the first tag or code")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.add_argument("--json", action="store_true", help="print JSON lines")


def parse_view(text: str, *, now: float | None = None) -> dict[str, Any]:
    """The payload layer's verdict on ``text``: ``{"parsed": ..., "parse_error": None}`` or the
    error's stable code and message."""
    from terminal.domain.payloads import PayloadError, parse_payload, payload_to_json

    try:
        parsed = parse_payload(text, now=time.time() if now is None else now)
    except PayloadError as exc:
        return {"parsed": None, "parse_error": {"code": exc.code, "message": exc.message}}
    return {"parsed": payload_to_json(parsed), "parse_error": None}


def pay_view(text: str) -> dict[str, Any]:
    """What a sale would make of ``text`` presented by a customer (any asset)."""
    from terminal.presentation import TEST_PREFIX, customer_refusal

    refusal = customer_refusal(text, now=time.time())
    test = text.strip().lower().startswith(TEST_PREFIX)
    return {"pays": refusal is None, "refusal": refusal, "test_mode": test}


def ndef_view(raw: bytes) -> dict[str, Any] | None:
    """The NDEF message's records as the payload layer decodes them."""
    from terminal.domain.payloads import PayloadError, parse_ndef

    try:
        return {"kind": "ndef", **parse_ndef(raw).to_json()}
    except PayloadError as exc:
        return {"error": {"code": exc.code, "message": exc.message}}


def describe(event: TagRead | CodeScanned) -> dict[str, Any]:
    from drivers import TagRead

    out: dict[str, Any] = {
        "kind": "tag" if isinstance(event, TagRead) else "code",
        "reader": event.reader,
        "payload": event.payload,
        **parse_view(event.payload),
        **pay_view(event.payload),
        "elapsed_ms": None if event.elapsed_ms is None else round(event.elapsed_ms, 2),
    }
    if isinstance(event, TagRead):
        out["uid"] = event.uid
        out["tag_type"] = event.tag_type
        out["ndef"] = None if event.ndef is None else ndef_view(event.ndef)
    else:
        out["decoder"] = event.decoder
    return out


def human(view: dict[str, Any]) -> str:
    head = f"{view['kind']:4} {view['payload']}"
    if view.get("uid"):
        head += f"  uid {view['uid']}"
    if view.get("elapsed_ms") is not None:
        head += f"  {view['elapsed_ms']:.0f} ms"
    if view["test_mode"] and view["pays"]:
        head += "\n     a test card of the emulated backend (test mode): pay takes it"
    elif view["parse_error"]:
        head += f"\n     not a payment: {view['parse_error']['message']}"
    elif view["parsed"] is not None:
        parsed = view["parsed"]
        facts = [f"{k} {parsed[k]}" for k in ("kind", "network", "asset", "amount") if parsed.get(k)]
        head += f"\n     {', '.join(facts)}"
        if not view["pays"]:
            head += f"\n     pay refuses it: {view['refusal']}"
    return head


def run(args: argparse.Namespace) -> int:
    from drivers import CodeScanned, ReaderError, ReaderState, ReaderStateChanged, TagRead, open_reader
    from drivers.registry import DriverError

    if args.timeout is not None and args.timeout <= 0:
        raise CliError("--timeout must be a positive number of seconds")
    events: queue.Queue[ReaderEvent] = queue.Queue()
    require_readers([args.reader])
    try:
        reader = open_reader(args.reader)
    except DriverError as exc:
        raise CliError(str(exc)) from None
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    reads = 0
    reader.start(events.put)
    try:
        while deadline is None or time.monotonic() < deadline:
            wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            try:
                event = events.get(timeout=wait)
            except queue.Empty:
                continue
            if isinstance(event, TagRead | CodeScanned):
                reads += 1
                view = describe(event)
                print(json.dumps(view) if args.json else human(view), flush=True)
                if args.once:
                    break
            elif isinstance(event, ReaderError):
                if args.json:
                    err = {"error": event.code, "title": event.title, "message": event.message}
                    print(json.dumps({**err, "hint": event.hint, "reader": event.reader}), flush=True)
                else:
                    hint = f" ({event.hint})" if event.hint else ""
                    print(f"{event.title}: {event.message}{hint}", file=sys.stderr, flush=True)
            elif isinstance(event, ReaderStateChanged):
                if not args.json:
                    detail = f": {event.detail}" if event.detail else ""
                    print(f"[{event.reader}] {event.state.value}{detail}", file=sys.stderr, flush=True)
                if event.state is ReaderState.ENDED:
                    break  # a file or still image read to its end: nothing more will come
    finally:
        reader.stop()
    return EXIT_OK if reads else EXIT_FAILED

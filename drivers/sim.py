"""Simulated readers: ``sim:nfc`` and ``sim:qr``, a real driver that plays a script.

Device strings::

    sim:nfc                               one tap of the default demo card, after 50 ms
    sim:nfc?payload=TEXT&delay=0.2        one tap of TEXT after 0.2 s
    sim:qr?payload=TEXT&count=3           three scans of TEXT
    sim:nfc?script=taps.toml              taps from a script file (TOML or JSON)

A script is a list of steps: ``{payload = "...", delay = 0.1, uid = "04A1..."}``. Delays are
measured from the previous step. The reader emits :class:`TagRead` (nfc) or
:class:`CodeScanned` (qr) events from its own thread, then stays ready until stopped.
"""

from __future__ import annotations

import json
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from drivers.events import CodeScanned, ReaderError, ReaderEvent, ReaderState, ReaderStateChanged, TagRead
from drivers.registry import DeviceStringError, EventSink

KINDS = ("nfc", "qr")
OPTIONS = ("payload", "delay", "count", "script", "uid")
# What a tap of the demo card carries until a real card simulator exists: a customer token
# the emulated backend recognises in test mode.
DEMO_PAYLOAD = "cryptopos-test:card:approve"


@dataclass(frozen=True, slots=True)
class Step:
    payload: str
    delay: float = 0.05
    uid: str | None = None


def _parse(device: str, rest: str) -> tuple[str, list[Step]]:
    kind, _, query = rest.partition("?")
    if kind not in KINDS:
        raise DeviceStringError(f"unknown simulated reader {device!r}; known: sim:nfc, sim:qr")
    opts = parse_qs(query, keep_blank_values=True, strict_parsing=False) if query else {}
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise DeviceStringError(
            f"unknown option {', '.join(unknown)} in {device!r}; known options: {', '.join(OPTIONS)}"
        )
    one = {k: v[-1] for k, v in opts.items()}
    if "script" in one:
        return kind, load_script(Path(one["script"]))
    try:
        delay = float(one.get("delay", "0.05"))
        count = int(one.get("count", "1"))
    except ValueError as exc:
        raise DeviceStringError(f"bad number in {device!r}: {exc}") from None
    if delay < 0 or not 0 <= count <= 10_000:
        raise DeviceStringError(f"delay must be >= 0 and count within 0..10000 in {device!r}")
    step = Step(one.get("payload", DEMO_PAYLOAD), delay, one.get("uid"))
    return kind, [step] * count


def load_script(path: Path) -> list[Step]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise DeviceStringError(f"cannot read reader script {path}: {exc.strerror}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise DeviceStringError(f"reader script {path} is not valid: {exc}") from None
    raw_steps = data.get("steps") if isinstance(data, dict) else data
    if not isinstance(raw_steps, list):
        raise DeviceStringError(f"reader script {path} needs a list of steps ('steps = [...]')")
    steps = []
    for i, s in enumerate(raw_steps):
        if not isinstance(s, dict) or not isinstance(s.get("payload"), str):
            raise DeviceStringError(f"reader script {path}: step {i} needs a 'payload' string")
        steps.append(Step(s["payload"], float(s.get("delay", 0.05)), s.get("uid")))
    return steps


def check(device: str, rest: str) -> None:
    _parse(device, rest)


class SimReader:
    """Plays its steps in a thread. Honours ``stop()`` within a few milliseconds."""

    def __init__(self, device: str, kind: str, steps: list[Step]) -> None:
        self.device = device
        self.kind = kind
        self.steps = steps
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sink: EventSink) -> None:
        if self._thread is not None:
            raise RuntimeError(f"reader {self.device} already started")
        self._thread = threading.Thread(
            target=self._run, args=(sink,), name=f"reader {self.device}", daemon=True
        )
        self._thread.start()

    def _run(self, sink: EventSink) -> None:
        emit = sink
        emit(ReaderStateChanged(reader=self.device, state=ReaderState.READY))
        for step in self.steps:
            if self._stop.wait(step.delay):
                break
            started = time.monotonic()
            event: ReaderEvent
            if self.kind == "nfc":
                event = TagRead(
                    reader=self.device,
                    payload=step.payload,
                    uid=step.uid,
                    tag_type="sim",
                    elapsed_ms=(time.monotonic() - started) * 1000,
                )
            else:
                event = CodeScanned(reader=self.device, payload=step.payload, decoder="sim")
            try:
                emit(event)
            except Exception as exc:  # the sink's failure must not kill the reader silently
                emit(ReaderError(reader=self.device, title="Reader event lost", message=str(exc)))
        self._stop.wait()
        emit(ReaderStateChanged(reader=self.device, state=ReaderState.STOPPED))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)


def open_reader(device: str, rest: str, **options: object) -> SimReader:
    if options:
        raise DeviceStringError(f"sim readers take their options in the device string, not {sorted(options)}")
    kind, steps = _parse(device, rest)
    return SimReader(device, kind, steps)

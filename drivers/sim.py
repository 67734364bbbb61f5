"""Simulated readers: ``sim:nfc`` and ``sim:qr``, real drivers that play a script.

Device strings::

    sim:nfc                               one tap of the default demo card, after 50 ms
    sim:nfc?payload=TEXT&delay=0.2        one tap of TEXT after 0.2 s
    sim:qr?payload=TEXT&count=3           three scans of TEXT
    sim:nfc?card=boltcard&count=3         three taps of the demo Bolt Card (fresh SUN URL each)
    sim:nfc?card=wallet&payload=TOKEN     a phone running our wallet (HCE)
    sim:nfc?script=taps.toml              taps from a script file (TOML or JSON)

A script is a list of steps, each ``{delay = 0.1, ...}`` plus one of:

* ``payload = "..."`` (and ``uid``): a tag or code carrying that text;
* ``card = "boltcard"``: a tap of the script's Bolt Card (``[boltcard]`` table: ``uid``, ``k1``,
  ``k2`` in hex, ``base``, ``counter``), read through the real ISO-DEP/Type 4 protocol code;
  with ``replay = true`` the URL of an earlier tap is sent again, with ``wrong_keys = true`` a card
  with the same UID but keys the issuer does not know taps;
* ``card = "wallet"``, ``payload = TOKEN`` (``locked = true``: the phone refuses);
* ``card = "tag"``, ``payload``: an NFC Forum Type 4 tag; ``ndef_hex`` gives raw (even garbage) NDEF;
* ``removed = true``: the card leaves the field mid-read (after ``after`` APDUs; default 3).

Delays are measured from the previous step. Reads go through the same protocol code as the nfcpy
reader, so errors come out the same way: a :class:`ReaderError` with the same ``code``.
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from drivers.boltcard import BoltCard, BoltCardError
from drivers.events import CodeScanned, ReaderError, ReaderEvent, ReaderState, ReaderStateChanged, TagRead
from drivers.registry import DeviceStringError, Probe
from drivers.threaded import ThreadedReader

KINDS = ("nfc", "qr")
OPTIONS = ("payload", "delay", "count", "script", "uid", "card")
CARDS = ("boltcard", "wallet", "tag")
# What a tap of the demo card carries: a customer token the emulated backend recognises in test mode.
DEMO_PAYLOAD = "cryptopos-test:card:approve"
# The demo Bolt Card: the keys and UID of the boltcard project's published test vectors.
DEMO_BOLTCARD = {
    "uid": "04996C6A926980",
    "k1": "0c3b25d92b38ae443229dd59ad34b85d",
    "k2": "b45775776cb224c75bcde7ca3704e933",
    "base": "lnurlw://card.example.com/ln",
}


@dataclass(frozen=True, slots=True)
class Step:
    payload: str = DEMO_PAYLOAD
    delay: float = 0.05
    uid: str | None = None
    card: str | None = None  # None: a plain payload; else one of CARDS
    replay: bool = False
    wrong_keys: bool = False
    locked: bool = False
    removed: bool = False
    after: int = 3
    ndef_hex: str | None = None


@dataclass
class Script:
    steps: list[Step]
    boltcard: BoltCard


def make_boltcard(spec: dict[str, Any] | None = None, *, where: str = "sim") -> BoltCard:
    data = {**DEMO_BOLTCARD, **(spec or {})}
    try:
        return BoltCard(
            uid=bytes.fromhex(str(data["uid"])),
            k1=bytes.fromhex(str(data["k1"])),
            k2=bytes.fromhex(str(data["k2"])),
            base=str(data["base"]),
            counter=int(data.get("counter", 0)),
        )
    except (ValueError, BoltCardError) as exc:
        raise DeviceStringError(f"{where}: bad [boltcard] settings: {exc}") from None


def _parse(device: str, rest: str) -> tuple[str, Script]:
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
        return kind, load_script(Path(one["script"]), kind=kind)
    try:
        delay = float(one.get("delay", "0.05"))
        count = int(one.get("count", "1"))
    except ValueError as exc:
        raise DeviceStringError(f"bad number in {device!r}: {exc}") from None
    if delay < 0 or not 0 <= count <= 10_000:
        raise DeviceStringError(f"delay must be >= 0 and count within 0..10000 in {device!r}")
    card = one.get("card")
    if card is not None and (card not in CARDS or kind != "nfc"):
        raise DeviceStringError(
            f"unknown card {card!r} in {device!r}; known (sim:nfc only): {', '.join(CARDS)}"
        )
    step = Step(payload=one.get("payload", DEMO_PAYLOAD), delay=delay, uid=one.get("uid"), card=card)
    return kind, Script([step] * count, make_boltcard(where=device))


def _step(raw: Any, i: int, path: Path, kind: str) -> Step:
    where = f"reader script {path}: step {i}"
    if not isinstance(raw, dict):
        raise DeviceStringError(f"{where} must be a table/object")
    known = set(Step.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise DeviceStringError(
            f"{where}: unknown key {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    card = raw.get("card")
    if card is not None and (card not in CARDS or kind != "nfc"):
        raise DeviceStringError(f"{where}: unknown card {card!r}; known (sim:nfc only): {', '.join(CARDS)}")
    needs_payload = card is None and not raw.get("removed")
    if needs_payload and not isinstance(raw.get("payload"), str):
        raise DeviceStringError(f"{where} needs a 'payload' string (or a 'card')")
    try:
        return Step(
            payload=str(raw.get("payload", DEMO_PAYLOAD)),
            delay=float(raw.get("delay", 0.05)),
            uid=raw.get("uid"),
            card=card,
            replay=bool(raw.get("replay", False)),
            wrong_keys=bool(raw.get("wrong_keys", False)),
            locked=bool(raw.get("locked", False)),
            removed=bool(raw.get("removed", False)),
            after=int(raw.get("after", 3)),
            ndef_hex=raw.get("ndef_hex"),
        )
    except (TypeError, ValueError) as exc:
        raise DeviceStringError(f"{where}: {exc}") from None


def load_script(path: Path, *, kind: str = "nfc") -> Script:
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
    spec = data.get("boltcard") if isinstance(data, dict) else None
    if spec is not None and not isinstance(spec, dict):
        raise DeviceStringError(f"reader script {path}: [boltcard] must be a table")
    steps = [_step(s, i, path, kind) for i, s in enumerate(raw_steps)]
    return Script(steps, make_boltcard(spec, where=f"reader script {path}"))


def check(device: str, rest: str) -> None:
    _parse(device, rest)


def probe(device: str, rest: str) -> Probe:
    kind, script = _parse(device, rest)
    return Probe(device, True, f"simulated {kind} reader, {len(script.steps)} scripted step(s)")


class SimReader(ThreadedReader):
    """Plays its steps in a thread. Honours ``stop()`` within a few milliseconds."""

    join_timeout_s = 1.0

    def __init__(self, device: str, kind: str, script: Script | list[Step]) -> None:
        super().__init__(device)
        self.kind = kind
        if isinstance(script, list):
            script = Script(script, make_boltcard())
        self.script = script
        self.steps = script.steps

    def _run(self) -> None:
        # the script's own sequence: READY at once, and a sink's failure is an event it reports
        emit = self._sink
        emit(ReaderStateChanged(reader=self.device, state=ReaderState.READY))
        for step in self.steps:
            if self._stop.wait(step.delay):
                break
            started = time.monotonic()
            event: ReaderEvent
            if self.kind == "nfc":
                event = self._tap(step, started)
            else:
                event = CodeScanned(reader=self.device, payload=step.payload, decoder="sim")
            try:
                emit(event)
            except Exception as exc:  # the sink's failure must not kill the reader silently
                emit(ReaderError(reader=self.device, title="Reader event lost", message=str(exc)))
        self._stop.wait()
        emit(ReaderStateChanged(reader=self.device, state=ReaderState.STOPPED))

    def _tap(self, step: Step, started: float) -> ReaderEvent:
        if step.card is None and not step.removed:
            return TagRead(
                reader=self.device,
                payload=step.payload,
                uid=step.uid,
                tag_type="sim",
                elapsed_ms=(time.monotonic() - started) * 1000,
            )
        # the card models and the protocol code are pure, but this keeps `import drivers.sim` light
        from drivers.nfc import cards
        from drivers.nfc.errors import NfcError, TagLostError
        from drivers.nfc.protocol import read_iso_dep

        bolt = self.script.boltcard
        card: cards.IsoDepCard
        uid = step.uid
        if step.card == "boltcard" and step.replay:
            try:
                url = bolt.replay()
            except BoltCardError:
                url = bolt.tap()  # nothing to replay yet: the first tap is genuine
            card = cards.type4_tag(cards.ndef_message(url))
            uid = uid or bolt.uid.hex().upper()
        elif step.card == "boltcard":
            source = bolt.with_wrong_keys() if step.wrong_keys else bolt
            card = cards.bolt_card_tag(source)
            uid = uid or bolt.uid.hex().upper()
        elif step.card == "wallet":
            card = cards.wallet_phone(step.payload, locked=step.locked)
        elif step.ndef_hex is not None:
            card = cards.type4_tag(bytes.fromhex(step.ndef_hex))
        else:
            card = cards.type4_tag(cards.ndef_message(step.payload))

        transceive = card.transceive
        if step.removed:
            budget = [step.after]

            def transceive(apdu: bytes) -> bytes:
                if budget[0] <= 0:
                    raise TagLostError("the card left the field before it was read")
                budget[0] -= 1
                return card.transceive(apdu)

        try:
            content = read_iso_dep(transceive)
        except NfcError as exc:
            return ReaderError(
                reader=self.device, title=exc.title, message=exc.message, hint=exc.hint, code=exc.code
            )
        return TagRead(
            reader=self.device,
            payload=content.payload,
            uid=uid,
            tag_type=f"sim/{content.source}",
            ndef=content.ndef,
            elapsed_ms=(time.monotonic() - started) * 1000,
        )


def open_reader(device: str, rest: str, **options: object) -> SimReader:
    if options:
        raise DeviceStringError(f"sim readers take their options in the device string, not {sorted(options)}")
    kind, script = _parse(device, rest)
    return SimReader(device, kind, script)

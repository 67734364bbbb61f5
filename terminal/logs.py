"""Structured logs: one JSON object a line, to a rotating file; and the request id.

The terminal (``[logging]``: ``path``, ``level``), the backend's gateway and every instance
(``RUN_DIR/logs/``) log through here, so every line has the same shape::

    {"ts": "2026-03-14T12:00:00.123Z", "level": "INFO", "logger": "cryptopos.client",
     "msg": "backend request", "request_id": "…", "method": "POST", "path": "/payments/v2/…",
     "status": 201, "ms": 12.3}

Fields come from ``extra=`` on the logging call. What may never be logged (the signing secret,
card keys, a payment payload, a Bolt Card's ``p``/``c``, PINs) is not passed to a logger in the
first place; as a second line of defence, fields whose names say they hold such a thing are
replaced by ``"[redacted]"``, and ``p=``/``c=`` parameters and payment URIs in any text are
masked (:func:`scrub`).

The request id: the terminal's client makes one for every HTTP request and sends it as
``X-Request-Id``; the gateway passes it on to the instance (or makes one when a request has
none); both log it and echo it in the response. :func:`request_id_of` accepts an id from
outside only when it is short and plain, so a log line cannot be forged through it.

Stdlib only: the backend (which may import little of ``terminal``) uses it too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REQUEST_ID_HEADER = "X-Request-Id"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
OWN_LOGGERS = ("cryptopos", "terminal", "backend_stub", "drivers")
MAX_BYTES = 5_000_000
BACKUPS = 5

_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
# names of fields that hold what must never reach a log
_SECRET_NAMES = re.compile(
    r"secret|password|passwd|token|pin|key(?!_id)|payload|signature|authorization|cookie|^p$|^c$|card",
    re.IGNORECASE,
)
# values inside free text: a Bolt Card's SUN parameters, payment URIs and LNURLs, long hex keys
_SCRUB = (
    (re.compile(r"(?i)\b([pc])=[0-9a-f]{8,}"), r"\1=[redacted]"),
    (re.compile(r"(?i)\b(lnurlw?|lightning|bitcoin|ethereum|solana|cryptopos-[a-z]+):\S+"), r"\1:[redacted]"),
    (re.compile(r"(?i)\blnurl1[0-9a-z]{20,}"), "[redacted]"),
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), "[redacted]"),
)
# LogRecord's own attributes: everything else on a record came from ``extra=``
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


def new_request_id() -> str:
    return secrets.token_hex(12)


def request_id_of(value: str | bytes | None) -> str | None:
    """A request id from a header, when it is one we may log as it is; None otherwise."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if value is not None and _ID.match(value) else None


def scrub(text: str) -> str:
    """``text`` with Bolt Card parameters, payment URIs and long hex strings masked."""
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def _safe(name: str, value: Any) -> Any:
    if _SECRET_NAMES.search(name):
        return "[redacted]"
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _safe(str(k), v) for k, v in value.items()}
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON, its ``extra=`` fields included (made safe)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, Any] = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                out[name] = _safe(name, value)
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = f"{record.exc_info[0].__name__}: {scrub(str(record.exc_info[1]))}"
            # the frames (file, line, source line): no local values, and masked like the rest
            out["traceback"] = scrub(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


_levels: dict[str, int] = {}  # our loggers' levels before configure(), put back by release()


class _OwnHandler(logging.handlers.RotatingFileHandler):
    """Ours, so configuring again replaces it rather than adding a second."""


def configure(path: Path, *, level: str = "INFO", max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> Path:
    """Send every logger's records at ``level`` and above to ``path`` as JSON lines, rotated at
    ``max_bytes`` with ``backups`` old files kept. Replaces an earlier :func:`configure`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # created private
    os.close(fd)
    release()
    handler = _OwnHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    logging.getLogger().addHandler(handler)
    # our own loggers at ``level``; libraries keep the root's (warnings): httpx alone would log
    # every request with its full URL at INFO
    for name in OWN_LOGGERS:
        logger = logging.getLogger(name)
        _levels.setdefault(name, logger.level)
        logger.setLevel(level)
    return path


def release() -> None:
    """Close and remove the handler :func:`configure` installed (a command ends; a test)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(handler)
        handler.close()
    while _levels:
        name, level = _levels.popitem()
        logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def configured(path: Path, *, level: str = "INFO") -> Iterator[Path]:
    configure(path, level=level)
    try:
        yield path
    finally:
        release()

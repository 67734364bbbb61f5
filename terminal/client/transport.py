"""The transport for a configured backend: ``embedded`` is the in-process backend, found
through the ``cryptopos.backends`` entry point (the terminal never imports ``backend_stub``)."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import httpx

from terminal.client.errors import BackendUnavailableError
from terminal.journal.records import JournalOpenError

LEDGER_NAME = "embedded-backend.sqlite3"


class EmbeddedLedgerError(JournalOpenError):
    """The embedded backend's kept ledger cannot be opened; the message names the file and the fix.
    A JournalOpenError: the ledger is the terminal's local state beside its journal, and every
    command already ends on one with exit 2 and its message."""


def embedded_ledger(journal: Path) -> Path | None:
    """Where the embedded backend keeps its ledger: next to the journal, so the payments a
    command took are still there for the next command's refund, inquiry or reconcile. A journal
    in memory (tests) gets a temporary ledger."""
    if str(journal) == ":memory:":
        return None
    return journal.with_name(LEDGER_NAME)


def backend_transport(
    url: str, *, key_id: str, secret: bytes, ledger: Path | None = None
) -> httpx.AsyncBaseTransport | None:
    """The transport for a configured backend: ``embedded`` loads the in-process backend
    through the ``cryptopos.backends`` entry point, on the ledger kept at ``ledger`` (a
    temporary one without it); an http(s) URL needs none."""
    if url != "embedded":
        return None
    found = entry_points(group="cryptopos.backends", name="embedded")
    if not found:
        raise BackendUnavailableError(
            "No embedded backend", "this installation has no embedded backend; set backend.url to a URL"
        )
    factory = next(iter(found)).load()
    try:
        transport: httpx.AsyncBaseTransport = factory(key_id=key_id, secret=secret, ledger=ledger)
    except RuntimeError as exc:
        # the entry point's contract: a ledger it cannot open is a RuntimeError saying why
        raise EmbeddedLedgerError(str(exc)) from None
    return transport

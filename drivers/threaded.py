"""The thread lifecycle every reader shares: one daemon thread per reader, started once and
stopped promptly; its events go to the sink from that thread, and a failing sink or a crash of
the driver never ends the thread silently. Imports nothing but the standard library and events,
so ``import drivers`` stays light."""

from __future__ import annotations

import logging
import threading
from typing import Any

from drivers.events import ReaderError, ReaderState, ReaderStateChanged
from drivers.registry import EventSink

log = logging.getLogger(__name__)


class ThreadedReader:
    """Runs :meth:`_serve` in its own thread between STARTING and STOPPED; a driver subclasses
    it and fills in ``_serve`` (and ``_wake`` / ``_release`` when it holds more than a wait)."""

    join_timeout_s = 2.0  # how long stop() waits for the thread: the driver's longest blocking call
    crash_title = "Reader failed"

    def __init__(self, device: str) -> None:
        self.device = device
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: EventSink = lambda e: None
        self._state: ReaderState | None = None

    def start(self, sink: EventSink) -> None:
        if self._thread is not None:
            raise RuntimeError(f"reader {self.device} already started")
        self._sink = sink
        self._thread = threading.Thread(target=self._run, name=f"reader {self.device}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.join_timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _emit(self, event: Any) -> None:
        try:
            self._sink(event)
        except Exception:  # a failing sink must not kill the reader thread
            log.exception("reader event sink failed")

    def _set_state(self, state: ReaderState, detail: str = "") -> None:
        if state != self._state:
            self._state = state
            self._emit(ReaderStateChanged(reader=self.device, state=state, detail=detail))

    def _run(self) -> None:
        self._set_state(ReaderState.STARTING)
        try:
            self._serve()
        except Exception as exc:  # never die silently: the TUI shows it
            log.exception("%s crashed", self.device)
            self._emit(
                ReaderError(
                    reader=self.device,
                    title=self.crash_title,
                    message=f"{type(exc).__name__}: {exc}",
                    code="reader_crashed",
                )
            )
        finally:
            self._release()
            self._set_state(ReaderState.STOPPED)

    def _serve(self) -> None:
        """Read until ``self._stop`` is set (the reader's own loop)."""
        raise NotImplementedError

    def _wake(self) -> None:
        """Wake the thread from a wait that ``self._stop`` does not end (stop() calls it)."""

    def _release(self) -> None:
        """Let go of the device after the loop ended, however it ended."""

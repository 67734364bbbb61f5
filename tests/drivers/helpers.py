"""What the driver tests share: an event recorder that can wait, and free udp ports."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from drivers.events import ReaderError, ReaderEvent, ReaderState, ReaderStateChanged


class Events:
    """A reader's sink that records every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.items: list[ReaderEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: ReaderEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def of(self, kind: type[Any]) -> list[Any]:
        with self._cond:
            return [e for e in self.items if isinstance(e, kind)]

    def states(self) -> list[ReaderState]:
        return [e.state for e in self.of(ReaderStateChanged)]

    def errors(self) -> list[ReaderError]:
        return self.of(ReaderError)

    def wait(self, pred: Callable[[list[ReaderEvent]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self.items):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def wait_for(self, kind: type[Any], count: int = 1, timeout: float = 10.0) -> list[Any]:
        self.wait(lambda items: sum(isinstance(e, kind) for e in items) >= count, timeout)
        return self.of(kind)


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port

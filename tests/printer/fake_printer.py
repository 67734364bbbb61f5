"""A network receipt printer on loopback: a real TCP server (port-9100 style) that keeps every
byte of each connection and answers real-time status queries (``DLE EOT n``) like a printer.

It answers only queries that come before the print job's first byte, as a test printer
cannot parse a whole ESC/POS stream, and our driver asks before it prints.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

DLE_EOT = b"\x10\x04"
READY = {1: 0x12, 2: 0x12, 4: 0x12}  # online, no cause, paper present


class FakePrinter:
    def __init__(self, status: dict[int, int] | None = None, *, answers: bool = True) -> None:
        self.status = dict(READY if status is None else status)
        self.answers = answers
        self.jobs: list[bytes] = []  # everything after the status queries, one per connection
        self.queries: list[int] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port: int = self._sock.getsockname()[1]
        self._done = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def device(self) -> str:
        return f"printer:net:127.0.0.1:{self.port}"

    def __enter__(self) -> FakePrinter:
        t = threading.Thread(target=self._accept, name="fake-printer", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        # shutdown wakes the thread blocked in accept(); close alone would leave it listening
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for t in self._threads:
            t.join(timeout=5)

    def wait_jobs(self, count: int, timeout: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        with self._done:
            while len(self.jobs) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the printer got {len(self.jobs)} job(s), expected {count}")
                self._done.wait(left)
            return list(self.jobs)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        job = bytearray()
        with conn:
            conn.settimeout(10)
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                while not job and chunk.startswith(DLE_EOT) and len(chunk) >= 3:
                    n = chunk[2]
                    self.queries.append(n)
                    if self.answers and n in self.status:
                        conn.sendall(bytes([self.status[n]]))
                    chunk = chunk[3:]
                job += chunk
        with self._done:
            self.jobs.append(bytes(job))
            self._done.notify_all()

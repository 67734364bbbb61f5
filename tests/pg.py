"""A real PostgreSQL server for the test session (pgserver's PostgreSQL 16 binaries), a fresh
database per test, and the ledger kinds the acceptance tests are parametrized over.

The server starts once per session in a temporary folder (on tmpfs when there is one: the
tests are about transactions and concurrency, not the disk) and is stopped and removed at the
end. As root, pgserver runs it as a ``pgserver`` system user it creates. No skip: CI runs these.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend_stub.store import MasterKey, Store

KINDS = ("sqlite", "postgresql")


@dataclass
class PgServer:
    """The session's server; :meth:`database` makes a fresh database and returns its URL."""

    pgdata: Path
    server: Any
    user: str | None
    made: list[str] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        return str(self.server.get_uri())

    def database(self) -> str:
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return str(self.server.get_uri(name))

    def drop(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", maxsplit=1)[-1].split("?", maxsplit=1)[0]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_ctl(self, *args: str) -> None:
        """Stop or start the server under the tests' feet (``stop -m fast``, ``start``)."""
        from pgserver._commands import POSTGRES_BIN_PATH

        cmd = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-w", *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        info = self.server.get_postmaster_info()
        self.pg_ctl("-o", '-h ""', "-o", f"-k {info.socket_dir}", "-l", str(self.pgdata / "log"), "start")


@contextmanager
def pg_server() -> Iterator[PgServer]:
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is not set
        warnings.simplefilter("ignore")
        from pgserver import postgres_server
    shm = Path("/dev/shm")
    where = Path(tempfile.mkdtemp(prefix="cryptopos-pg-", dir=shm if shm.is_dir() else None))
    server = postgres_server.get_server(where / "pgdata", cleanup_mode="delete")
    try:
        yield PgServer(where / "pgdata", server, "pgserver" if os.geteuid() == 0 else None)
    finally:
        server.cleanup()
        shutil.rmtree(where, ignore_errors=True)


def key_file(folder: Path) -> Path:
    path = folder / "master.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(MasterKey.generate().key.hex())
    return path


@dataclass
class Ledger:
    """A ledger of one kind for one test: its URL, the master key file processes share, and
    the environment a child process needs to open it."""

    kind: str
    url: str
    key: Path

    def open(self, **kw: Any) -> Store:
        return Store(self.url, key_file=self.key, **kw)

    def env(self) -> dict[str, str]:
        return {**os.environ, "CRYPTOPOS_MASTER_KEY_FILE": str(self.key), "CRYPTOPOS_STORE_URL": self.url}

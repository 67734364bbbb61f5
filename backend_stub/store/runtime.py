"""Which ledger a process of ``cryptopos backend`` uses, and where its master key is.

First found wins: the ``--store`` flag, ``CRYPTOPOS_STORE_URL`` (a Kubernetes Secret), the URL
the supervisor recorded in the run directory (``store-url``, 0600, so instances and ``backend
terminal`` use the ledger the running backend uses), ``[store] url`` of the topology, and
``sqlite:///ledger.sqlite3`` in the run directory. A relative SQLite path is relative to the
current folder when given on the command line or in the environment, and to the run directory
when it comes from the topology. The master key: ``CRYPTOPOS_MASTER_KEY(_FILE)``, else
``master.key`` in the run directory (made 0600 when missing).
"""

from __future__ import annotations

import os
from pathlib import Path

from backend_stub.store.ledger import Store
from backend_stub.store.url import StoreURL, parse_store_url

__all__ = ["ENV_URL", "open_store", "record_url", "resolve_url"]

ENV_URL = "CRYPTOPOS_STORE_URL"
URL_FILE = "store-url"
KEY_FILE = "master.key"
DEFAULT_LEDGER = "ledger.sqlite3"


def resolve_url(run_dir: Path, *, given: str | None = None, topology_url: str | None = None) -> StoreURL:
    if given:
        return parse_store_url(given)
    env = os.environ.get(ENV_URL)
    if env:
        return parse_store_url(env)
    recorded = run_dir / URL_FILE
    if recorded.is_file():
        return parse_store_url(recorded.read_text(encoding="utf-8").strip())
    if topology_url:
        return parse_store_url(topology_url, base=run_dir)
    return parse_store_url(run_dir / DEFAULT_LEDGER)


def record_url(run_dir: Path, url: StoreURL) -> None:
    """Note the ledger the running backend uses (0600: the URL may hold a password)."""
    path = run_dir / URL_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(url.url + "\n")


def open_store(run_dir: Path, url: StoreURL) -> Store:
    return Store(url, key_file=run_dir / KEY_FILE)

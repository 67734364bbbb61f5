"""The emulated backend as its own process for the crash test: uvicorn on a loopback socket that
the test opened (``--fd``), its ledger at a store URL (``--db``: SQLite or PostgreSQL) that the
test reads directly; the master key comes from ``CRYPTOPOS_MASTER_KEY_FILE``."""

from __future__ import annotations

import argparse
import socket

import uvicorn

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fd", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--secret", required=True)
    args = ap.parse_args()
    app = create_app(store=Store(args.db), settings=ServiceSettings(keys={args.key_id: args.secret.encode()}))
    # a socket object, not uvicorn's fd= (which assumes a UNIX socket and so leaves Nagle on)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=args.fd)])


if __name__ == "__main__":
    main()

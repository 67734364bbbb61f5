"""The emulated backend as its own process for the crash test: uvicorn on a loopback socket that
the test opened (``--fd``), the ledger kept for the life of this process, and one extra test route,
``GET /_test/ledger``, listing every payment the backend holds.

The backend's SQLite store is not on main yet, so its ledger lives in this process's memory: it
outlives every terminal that is killed, which is what the crash test needs.
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from backend_stub.app import create_app
from backend_stub.state import BackendState


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fd", type=int, required=True)
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--secret", required=True)
    args = ap.parse_args()
    state = BackendState(keys={args.key_id: args.secret.encode()})
    app = create_app(state)

    @app.get("/_test/ledger")
    async def ledger() -> dict[str, Any]:
        return {
            "payments": [
                {"reference": p.reference, "payment_id": p.payment_id, "status": p.status}
                for p in state.payments.values()
            ]
        }

    uvicorn.run(app, fd=args.fd, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()

"""``cryptopos reconcile`` ends with one heartbeat to a real backend (uvicorn on loopback): the
ledger then has the till's unknown outcomes and the time of that reconcile; the command's output
and exit status are reconcile's own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store, health
from terminal.cli import main
from terminal.journal import Journal
from tests.support import NO_APPROVAL, serve

DEMO_KEY_ID, DEMO_SECRET = "t_demo_01", b"demo-secret-do-not-use-in-production"


def test_reconcile_sends_one_heartbeat_with_its_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "ledger.sqlite3")
    app = create_app(
        store=store, settings=ServiceSettings(keys={DEMO_KEY_ID: DEMO_SECRET}, refunds=NO_APPROVAL)
    )
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.open_sale(reference="r-new", idempotency_key="k", fiat_minor=500, fiat_currency="EUR", asset="BTC")
    j.update("r-new", "unknown_outcome", submitted_at=time.time())  # too fresh to settle: left open
    j.close()
    try:
        with serve(app) as url:
            monkeypatch.setenv("CRYPTOPOS_BACKEND__URL", url)
            before = time.time()
            code = main(["reconcile", "--journal", str(path), "--json"])
            out = capsys.readouterr()
        assert code == 3 and "r-new" in json.loads(out.out)["left"], out
        assert out.err == ""
        [t] = health.fleet(store)
        assert t.key_id == DEMO_KEY_ID and t.unknown_outcomes == 1 and t.queue_depth == 0
        assert t.readers == ()
        assert t.last_reconcile_at is not None and before - 1 <= t.last_reconcile_at <= time.time()
    finally:
        store.close()

"""The till tells the backend its health every ``heartbeat_s`` (60 s by default) from a worker of
its own: one signed POST to ``/payments/v2/terminals/heartbeat`` per period, which the backend
keeps in the ledger's ``terminal_health``. A heartbeat that cannot be sent is a debug line only:
the cashier sees no notice and the till stays as it was."""

from __future__ import annotations

from backend_stub.store import health
from tests.tui.conftest import MakeTill
from tests.tui.harness import KEY_ID, Till
from tests.tui.helpers import record_notifications, until

PATH = "POST /payments/v2/terminals/heartbeat"


def beats(till: Till) -> int:
    return till.transport.requests.count(PATH)


async def test_the_till_sends_its_heartbeat_once_a_period_and_the_ledger_keeps_it(make: MakeTill) -> None:
    till = make()
    till.app.heartbeat_s = 1.0
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: beats(till) >= 1, timeout=5)
        first = beats(till)
        await pilot.pause(0.5)  # half a period, ticks every 0.05 s meanwhile: no other beat
        assert beats(till) == first == 1
        fleet = health.fleet(till.backend.store)
        assert [t.key_id for t in fleet] == [KEY_ID]
        t = fleet[0]
        assert t.version and t.queue_depth == 0 and t.unknown_outcomes == 0
        assert t.last_reconcile_at is None  # this till has not reconciled yet
        assert {r.device for r in t.readers} == {"sim:nfc?count=0", "sim:qr?count=0"}
        assert t.seen_at == till.clock()


async def test_a_heartbeat_that_cannot_be_sent_raises_no_notice(make: MakeTill) -> None:
    till = make()
    till.app.heartbeat_s = 0.3
    till.transport.refuse = lambda r: r.url.path.endswith("/terminals/heartbeat")
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: beats(till) >= 2, timeout=8)
        await pilot.pause(0.1)
        assert seen == []
        await until(pilot, lambda: till.register.backend.connected is True)  # not judged by it
        assert health.fleet(till.backend.store) == []

"""The status bar's rollout notice follows the deployment: the till asks discovery again on an
interval and after its link comes back, so an aborted rollout's notice goes away. Against the
in-process deployment (gateway, instances, rollout controller), as the embedded backend runs it."""

from __future__ import annotations

from pathlib import Path

from backend_stub.cluster import ManualClock
from backend_stub.deployment import Deployment
from backend_stub.settings import ServiceSettings
from backend_stub.transport import InProcessTransport
from terminal.config import load_settings
from terminal.journal import Journal
from terminal.tui.app import PosApp
from terminal.tui.controller import Register
from tests.platform.helpers import plan, topology
from tests.tui.harness import KEY_ID, SECRET, FakeClock, FaultyTransport, make_client
from tests.tui.helpers import until

PAUSED = "[{setWeight: 25}, {pause: {}}]"  # waits until promoted or aborted


def till(tmp_path: Path, transport: FaultyTransport, *, discovery_s: float) -> PosApp:
    clock = FakeClock()
    loaded = load_settings(
        file=None,
        env={},
        overrides={
            "terminal.readers": (["sim:nfc?count=0"], "test"),
            "signing.key_id": (KEY_ID, "test"),
            "signing.secret": (SECRET.decode(), "test"),
            "journal.path": (str(tmp_path / "journal.sqlite3"), "test"),
        },
    )
    journal = Journal(tmp_path / "journal.sqlite3", clock=clock)
    register = Register(loaded=loaded, client=make_client(transport, clock), journal=journal, clock=clock)
    return PosApp(register, tick_s=0.05, reconcile_s=3600, discovery_s=discovery_s)


async def test_an_aborted_rollout_notice_goes_away(tmp_path: Path) -> None:
    d = Deployment.in_process(
        topology(), settings=ServiceSettings(keys={KEY_ID: SECRET}), clock=ManualClock()
    )
    await d.start()
    try:
        await d.rollouts.deploy("payments", "1.5.0", plan(PAUSED))
        app = till(tmp_path, FaultyTransport(InProcessTransport(d.gateway)), discovery_s=0.2)
        async with app.run_test(size=(80, 24)) as pilot:
            status = app.register
            await until(pilot, lambda: status.backend.connected is True)
            assert status.backend.notices and "rolling out build 1.5.0 (25%" in status.backend.notices[0]
            await d.rollouts.abort("payments")
            await until(pilot, lambda: not status.backend.notices)
            app.register.journal.close()
    finally:
        await d.aclose()


async def test_the_notice_is_asked_for_again_when_the_link_comes_back(tmp_path: Path) -> None:
    d = Deployment.in_process(
        topology(), settings=ServiceSettings(keys={KEY_ID: SECRET}), clock=ManualClock()
    )
    await d.start()
    try:
        transport = FaultyTransport(InProcessTransport(d.gateway))
        app = till(tmp_path, transport, discovery_s=3600)  # only a link change asks again
        async with app.run_test(size=(80, 24)) as pilot:
            status = app.register
            await until(pilot, lambda: status.backend.connected is True)
            assert status.backend.notices == ()
            await d.rollouts.deploy("payments", "1.5.0", plan(PAUSED))
            transport.down = True
            status._mark_offline("connection refused")
            transport.down = False
            status._mark_online()  # what a sale's next answer does
            await until(pilot, lambda: bool(status.backend.notices))
            assert "rolling out build 1.5.0" in status.backend.notices[0]
            app.register.journal.close()
    finally:
        await d.aclose()

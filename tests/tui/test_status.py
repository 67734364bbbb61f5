"""The always-visible status line: link and API version, offline and queued, notices."""

from __future__ import annotations

from terminal.tui.updates import BackendStatus
from terminal.tui.widgets.status import status_text
from tests.tui.conftest import MakeTill
from tests.tui.harness import make_client
from tests.tui.helpers import until


def test_status_text_shapes() -> None:
    assert "connecting" in status_text(BackendStatus(url="x")).plain
    online = status_text(BackendStatus(url="x", connected=True, api_version="v2")).plain
    assert "online" in online and "API v2" in online and "queued" not in online
    offline = status_text(BackendStatus(url="x", connected=False, queued=3)).plain
    assert "OFFLINE" in offline and "3 queued" in offline
    notice = status_text(
        BackendStatus(url="x", connected=True, notices=("payments 1.5.0 canary at 20%",))
    ).plain
    assert "payments 1.5.0 canary at 20%" in notice


async def test_rollout_notice_from_discovery_is_shown(make: MakeTill) -> None:
    till = make()
    till.transport.discovery_notices = ["rolling out payments 1.5.0 (canary 20%)"]
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        assert till.register.backend.notices[0] == "rolling out payments 1.5.0 (canary 20%)"
        await pilot.pause()
        bar = str(pilot.app.screen.query_one("#status-bar").render())
        # the version the client negotiated from discovery: the newest both services offer
        assert till.register.client.api_version == "v2"
        assert "rolling out payments 1.5.0" in bar and "API v2" in bar


async def test_a_deprecated_api_version_is_announced(make: MakeTill) -> None:
    till = make()
    # a till pinned to v1 in its config: the status bar shows the version it speaks
    till.register._client = make_client(till.transport, till.clock, api_version="v1")
    till.clock.advance(300 * 86400)  # past 2026-10-01, when the emulator deprecates v1
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        assert till.register.backend.api_version == "v1"
        assert till.register.backend.notices == ("API v1 deprecated, sunset 2027-06-30",)


async def test_a_till_on_the_negotiated_version_has_no_deprecation_to_announce(make: MakeTill) -> None:
    till = make()
    till.clock.advance(300 * 86400)  # v1 is deprecated by now, v2 is not
    async with till.app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: till.register.backend.connected is True)
        assert till.register.backend.api_version == "v2" == till.register.client.api_version
        assert till.register.backend.notices == ()

"""A receipt that cannot be written is a notice on the till, never a crash of the app."""

from __future__ import annotations

from terminal.domain.session import State
from tests.tui.conftest import MakeTill
from tests.tui.helpers import record_notifications, start_sale, until


async def test_an_unwritable_receipts_folder_is_a_notice(make: MakeTill) -> None:
    till = make()
    blocker = till.app.receipts_dir.parent / "not-a-folder"
    blocker.write_text("a file where the receipts folder should be\n")
    till.app.receipts_dir = blocker / "receipts"
    seen = record_notifications(till.app)
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        await pilot.press("t")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ResultScreen")
        await pilot.press("p")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReceiptScreen")
        await pilot.press("s")
        await until(pilot, lambda: any(severity == "error" for _t, _m, severity in seen))
        assert pilot.app.is_running
        assert any("receipt" in title.lower() for title, _m, sev in seen if sev == "error")
        # the sale itself is untouched
        assert till.register.session.state is State.APPROVED

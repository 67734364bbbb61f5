"""A reader lost mid-sale is shown on the waiting screen at once, and the cashier can cancel the
sale or move it to another reader (a configured one or a device string typed in)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from textual.widgets import Input

from drivers import Reader, open_reader
from drivers.events import ReaderState
from drivers.nfc.errors import ReaderUnavailableError
from drivers.threaded import ThreadedReader
from terminal.domain.session import State
from tests.tui.conftest import MakeTill
from tests.tui.helpers import record_notifications, screen_text, start_sale, until

FLAKY = "nfc:udp:localhost:9"  # a device string the settings accept; the factory below serves it


class UnpluggedReader(ThreadedReader):
    """Ready, then unplugged when the test says so: what the nfcpy reader reports when its USB
    device goes away (a ReaderError, then DISCONNECTED)."""

    def __init__(self, device: str) -> None:
        super().__init__(device)
        self.unplug = threading.Event()

    def _serve(self) -> None:
        self._set_state(ReaderState.READY)
        while not self._stop.is_set():
            if self.unplug.wait(0.02):
                problem = ReaderUnavailableError(
                    "NFC reader usb stopped answering (No such device)",
                    title="NFC reader disconnected",
                    hint="plug the reader in",
                )
                self._emit_error(problem)
                self._set_state(ReaderState.DISCONNECTED, problem.message)
                self._stop.wait()

    def _emit_error(self, exc: ReaderUnavailableError) -> None:
        from drivers.events import ReaderError

        self._emit(
            ReaderError(
                reader=self.device, title=exc.title, message=exc.message, hint=exc.hint, code=exc.code
            )
        )


def factory(made: list[UnpluggedReader]) -> Callable[..., Reader]:
    def make(device: str, **options: object) -> Reader:
        if device == FLAKY:
            reader = UnpluggedReader(device)
            made.append(reader)
            return reader
        return open_reader(device, **options)

    return make


async def test_a_lost_reader_is_shown_at_once_and_the_sale_can_be_cancelled(make: MakeTill) -> None:
    made: list[UnpluggedReader] = []
    till = make(readers=(FLAKY, "sim:qr?count=0"), reader_factory=factory(made))
    async with till.app.run_test(size=(80, 24)) as pilot:
        seen = record_notifications(till.app)
        await start_sale(pilot, till)
        await until(pilot, lambda: bool(made) and till.register.readers.get(FLAKY) is not None)
        made[0].unplug.set()
        await until(pilot, lambda: FLAKY in dict(till.register.view.lost))
        text = screen_text(pilot)
        assert "nfc:udp:localhost:9 lost" in text and "m: another reader" in text
        assert any(title == "NFC reader disconnected" for title, _, _ in seen)
        await pilot.press("escape")
        await until(pilot, lambda: till.register.session.state is State.IDLE)
        assert not till.backend.payments()


async def test_a_sale_moved_to_another_reader_is_paid_there(make: MakeTill) -> None:
    made: list[UnpluggedReader] = []
    till = make(readers=(FLAKY, "sim:qr?count=0"), reader_factory=factory(made))
    async with till.app.run_test(size=(80, 24)) as pilot:
        await start_sale(pilot, till)
        reference = till.register.view.reference
        await until(pilot, lambda: bool(made))
        made[0].unplug.set()
        await until(pilot, lambda: bool(till.register.view.lost))
        await pilot.press("m")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ReaderScreen")
        assert f"[1] {FLAKY}" in screen_text(pilot) and "[2] sim:qr" in screen_text(pilot)
        # a device the till does not know is refused on the screen, the sale keeps waiting
        pilot.app.screen.query_one(Input).value = "usb-stick"
        await pilot.press("enter")
        await until(pilot, lambda: "unknown reader" in screen_text(pilot))
        assert till.register.session.state is State.AWAITING_PAYMENT
        pilot.app.screen.query_one(Input).value = "sim:nfc?payload=cryptopos-test:card:approve&delay=0.2"
        await pilot.press("enter")
        await until(pilot, lambda: till.register.session.state is State.APPROVED)
        assert till.register.view.reference == reference  # the same sale, on the other reader
        assert till.register.view.source == "sim:nfc?payload=cryptopos-test:card:approve&delay=0.2"
        assert made[0].running is False  # the lost reader was let go
        (payment,) = till.backend.payments()
        assert payment["reference"] == reference and payment["status"] == "approved"

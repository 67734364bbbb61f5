"""The merchant TUI (Textual). ``run_tui`` builds the register from the settings and runs
the app; importing this package imports neither Textual nor a driver library."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from terminal.client import BackendClient
    from terminal.config import LoadedSettings, Settings
    from terminal.staff.demo import DemoStaff
    from terminal.tui.app import PosApp

# The demo's readers: live and ready, they present nothing until a demo key is pressed.
DEMO_READERS = ("sim:nfc?count=0", "sim:qr?count=0")


def client_factory(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> BackendClient:
    """The till's client: built like every command's (timeouts, retries, breaker, pinned version)."""
    from terminal.client.factory import client_from_settings

    return client_from_settings(settings, transport=transport)


def build_app(loaded: LoadedSettings, *, demo: bool = False, demo_staff: DemoStaff | None = None) -> PosApp:
    """The till. ``demo``: with the demo's card and staff (``demo_staff``: their PINs; drawn
    fresh when not given)."""
    from terminal.journal import Journal
    from terminal.tui.app import PosApp
    from terminal.tui.controller import Register
    from terminal.tui.invoices import ClientInvoiceDesk

    settings = loaded.settings
    holder: list[Register] = []
    # the merchant-presented invoice QR, through the register's own client (built on first use)
    desk = ClientInvoiceDesk(lambda: holder[0].client)
    if not demo:
        register = Register(
            loaded=loaded,
            client=lambda: client_factory(settings),
            journal=Journal(settings.journal.path),
            invoices=desk,
        )
        holder.append(register)
        return PosApp(register)
    from terminal.staff.demo import DemoStaff
    from terminal.tui.demo import demo_card, demo_setup

    card = demo_card()
    staff = demo_staff or DemoStaff()
    journal = Journal(settings.journal.path)
    staff.add_cashier(journal)
    register = Register(
        loaded=loaded,
        client=lambda: client_factory(settings),
        journal=journal,
        invoices=desk,
        demo=True,
        demo_card=card.tap,
        setup=demo_setup(lambda: holder[0].client, card, staff),
    )
    holder.append(register)
    return PosApp(register, demo=True, staff_hint=staff.hint())


def run_tui(loaded: LoadedSettings, *, demo: bool = False) -> int:
    app = build_app(loaded, demo=demo)
    if demo and sys.stdout.isatty():
        # the sign-in screen shows them too; printed, they are still there after the demo ends
        # (not into a pipe: `cryptopos serve` draws the till from it)
        print(app.staff_hint)
    try:
        app.run()
    finally:
        app.register.journal.close()
    return 0

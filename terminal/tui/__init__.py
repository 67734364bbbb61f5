"""The merchant TUI (Textual). ``run_tui`` builds the register from the settings and runs
the app; importing this package imports neither Textual nor a driver library."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from terminal.client import BackendClient
    from terminal.config import LoadedSettings, Settings
    from terminal.tui.app import PosApp

# The demo's readers: live and ready, they present nothing until a demo key is pressed.
DEMO_READERS = ("sim:nfc?count=0", "sim:qr?count=0")


def client_factory(settings: Settings) -> BackendClient:
    from terminal.client import BackendClient, backend_transport

    secret = settings.signing.secret.get_secret_value().encode()
    return BackendClient(
        base_url=settings.backend.url,
        key_id=settings.signing.key_id,
        secret=secret,
        transport=backend_transport(settings.backend.url, key_id=settings.signing.key_id, secret=secret),
        connect_timeout=settings.timeouts.connect_s,
        request_timeout=settings.timeouts.request_s,
    )


def build_app(loaded: LoadedSettings, *, demo: bool = False) -> PosApp:
    from terminal.journal import Journal
    from terminal.tui.app import PosApp
    from terminal.tui.controller import Register

    settings = loaded.settings
    register = Register(
        loaded=loaded,
        client=lambda: client_factory(settings),
        journal=Journal(settings.journal.path),
        demo=demo,
    )
    return PosApp(register, demo=demo)


def run_tui(loaded: LoadedSettings, *, demo: bool = False) -> int:
    app = build_app(loaded, demo=demo)
    try:
        app.run()
    finally:
        app.register.journal.close()
    return 0

"""The merchant TUI (Textual). ``run_tui`` builds the register from the settings and runs
the app; importing this package imports neither Textual nor a driver library."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from terminal.client import BackendClient
    from terminal.config import LoadedSettings, Settings
    from terminal.tui.app import PosApp

# The demo's readers: live and ready, they present nothing until a demo key is pressed.
DEMO_READERS = ("sim:nfc?count=0", "sim:qr?count=0")


def client_factory(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> BackendClient:
    from terminal.client import BackendClient, backend_transport

    secret = settings.signing.secret.get_secret_value().encode()
    if transport is None:
        transport = backend_transport(settings.backend.url, key_id=settings.signing.key_id, secret=secret)
    return BackendClient(
        base_url=settings.backend.url,
        key_id=settings.signing.key_id,
        secret=secret,
        transport=transport,
        connect_timeout=settings.timeouts.connect_s,
        request_timeout=settings.timeouts.request_s,
    )


def build_app(loaded: LoadedSettings, *, demo: bool = False) -> PosApp:
    from terminal.journal import Journal
    from terminal.tui.app import PosApp
    from terminal.tui.controller import Register

    settings = loaded.settings
    if not demo:
        register = Register(
            loaded=loaded, client=lambda: client_factory(settings), journal=Journal(settings.journal.path)
        )
        return PosApp(register)
    from terminal.client import backend_transport
    from terminal.tui.demo import card_setup, demo_card

    # one embedded backend for the client and for issuing the demo card
    made: list[httpx.AsyncBaseTransport | None] = []

    def demo_client() -> BackendClient:
        secret = settings.signing.secret.get_secret_value().encode()
        made.append(backend_transport(settings.backend.url, key_id=settings.signing.key_id, secret=secret))
        return client_factory(settings, transport=made[0])

    card = demo_card()
    register = Register(
        loaded=loaded,
        client=demo_client,
        journal=Journal(settings.journal.path),
        demo=True,
        demo_card=card.tap,
        setup=card_setup(lambda: made[0] if made else None, card, settings=settings),
    )
    return PosApp(register, demo=True)


def run_tui(loaded: LoadedSettings, *, demo: bool = False) -> int:
    app = build_app(loaded, demo=demo)
    try:
        app.run()
    finally:
        app.register.journal.close()
    return 0

"""What every screen shares: the status line on top and the keys in the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from terminal.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from terminal.tui.app import PosApp
    from terminal.tui.controller import Register


class PosScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    @property
    def pos(self) -> PosApp:
        return cast("PosApp", self.app)

    @property
    def register(self) -> Register:
        """Read-only queries (history, report, settings); intents go through messages."""
        return self.pos.register

"""What every screen shares: the status line on top and the keys in the footer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.css.query import NoMatches
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

    def follow(self, attribute: str, render: Callable[[Any], None]) -> None:
        """Re-render on every change of the app's ``attribute`` while this screen has its widgets.

        A change can land while the screen is still composing or already being dismissed
        (the register runs in workers): then there is nothing to draw, not an error.
        """

        def guarded(value: Any) -> None:
            with contextlib.suppress(NoMatches):
                render(value)

        self.watch(self.app, attribute, guarded)

    @property
    def pos(self) -> PosApp:
        return cast("PosApp", self.app)

    @property
    def register(self) -> Register:
        """Read-only queries (history, report, settings); intents go through messages."""
        return self.pos.register

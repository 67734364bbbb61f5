"""Which readers are live and what they are doing; the messages reader workers post."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from drivers import ReaderEvent
from terminal.tui.updates import ReaderStatus

_STYLE = {
    "ready": ("●", "green"),
    "reading": ("◉", "bold green"),
    "starting": ("○", "yellow"),
    "disconnected": ("✖", "red"),
    "busy": ("✖", "red"),
    "error": ("✖", "bold red"),
    "stopped": ("○", "dim"),
}


class ReaderPanel(Static):
    """One line per reader: its device string and state."""

    class Reported(Message):
        """A reader's thread reported an event (posted from the worker thread)."""

        def __init__(self, event: ReaderEvent) -> None:
            super().__init__()
            self.event = event

    DEFAULT_CSS = """
    ReaderPanel { height: auto; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "reader_statuses", self._render_readers)

    def _render_readers(self, statuses: dict[str, ReaderStatus]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if not statuses:
            text.append("no reader running", "dim")
        for i, status in enumerate(statuses.values()):
            mark, style = _STYLE.get(status.state, ("?", ""))
            if i:
                text.append("\n")
            text.append(f"{mark} ", style)
            text.append(f"{status.device.split('?', 1)[0]} ")
            text.append(status.state + (f" ({status.detail})" if status.detail else ""), style)
        self.update(text)

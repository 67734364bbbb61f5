"""The always-visible status line: who is signed in, backend link and API version, offline
queue, rollout notice."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from terminal.tui.updates import BackendStatus, StaffView


def status_text(status: BackendStatus, *, merchant: str = "", staff: StaffView | None = None) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if merchant:
        text.append(f" {merchant} ", "bold")
    if staff is not None:
        text.append(f" {staff.name}{' (manager)' if staff.role == 'manager' else ''} ", "bold cyan")
    if status.connected is None:
        text.append(" ○ connecting ", "yellow")
    elif status.connected:
        text.append(" ● online ", "bold green")
        text.append(f"API {status.api_version} ")
    else:
        text.append(" ✖ OFFLINE ", "bold white on red")
    if status.queued or status.connected is False:
        text.append(f" {status.queued} queued ", "bold black on yellow" if status.queued else "")
    for notice in status.notices[:1]:
        text.append(f" ⚑ {notice}", "bold cyan")
    return text


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { dock: top; height: 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__(id="status-bar")

    def on_mount(self) -> None:
        self.watch(self.app, "backend_status", self._render_status)
        self.watch(self.app, "staff_on", lambda _staff: self._render_status(self.app.backend_status))  # type: ignore[attr-defined]

    def _render_status(self, status: BackendStatus) -> None:
        merchant = getattr(self.app, "merchant_name", "")
        self.update(status_text(status, merchant=merchant, staff=getattr(self.app, "staff_on", None)))

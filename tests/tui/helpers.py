from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from terminal.domain.session import State
from tests.tui.harness import Till


async def until(pilot: Pilot[None], predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Let the app run until ``predicate`` holds; fail with what the till is doing otherwise."""
    steps = int(timeout / 0.02)
    for _ in range(steps):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out; screen {type(pilot.app.screen).__name__}")


async def start_sale(
    pilot: Pilot[None], till: Till, *, amount: str = "12", tip: str = "n", asset: str = "1"
) -> None:
    """Type an amount, pick a tip and an asset, and wait for the quote."""
    await pilot.press(*amount, "enter")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "TipScreen")
    await pilot.press(tip)
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "AssetScreen")
    await pilot.press(asset)
    sess = till.register.session
    # a reader that presents at once may already have moved the sale past awaiting_payment
    await until(pilot, lambda: State.AWAITING_PAYMENT in (sess.state, *sess.history))


def footer_keys(pilot: Pilot[None]) -> list[str]:
    """The footer's keys (``"P Print"``...) after asserting every one is shown whole inside the
    screen's width: a footer wider than the screen scrolls, and the keys past its edge are lost."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    footer = pilot.app.screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    assert footer.virtual_size.width <= footer.size.width, f"footer too wide: {footer.virtual_size.width}"
    assert all(k.region.x >= 0 and k.region.right <= footer.region.right for k in keys)
    return [f"{k.key_display} {k.description}" for k in keys]


def screen_text(pilot: Pilot[None]) -> str:
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in pilot.app.screen.query(Static))


def record_notifications(app: Any) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    original = app.notify

    def notify(message: str, *, title: str = "", severity: str = "information", **kw: Any) -> None:
        seen.append((title, message, severity))
        original(message, title=title, severity=severity, **kw)

    app.notify = notify
    return seen


async def sign_in(pilot: Pilot[None], staff_id: str, pin: str) -> None:
    """On the sign-in screen: pick ``staff_id``, type ``pin``, Enter (the screen stays when the
    PIN is refused: the caller checks what it says)."""
    from textual.widgets import OptionList

    from terminal.tui.screens.staff import SignInScreen

    await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen))
    screen = pilot.app.screen
    assert isinstance(screen, SignInScreen)
    await until(pilot, lambda: staff_id in screen.ids)
    screen.query_one(OptionList).highlighted = screen.ids.index(staff_id)
    await pilot.press(*pin, "enter")


async def approve(pilot: Pilot[None], staff_id: str, pin: str) -> None:
    """On a manager's PIN pad: pick ``staff_id``, type ``pin``, Enter."""
    from textual.widgets import OptionList

    from terminal.tui.screens.staff import PinPadScreen

    await until(pilot, lambda: isinstance(pilot.app.screen, PinPadScreen))
    pad = pilot.app.screen
    assert isinstance(pad, PinPadScreen)
    pad.query_one(OptionList).highlighted = [m.staff_id for m in pad.managers].index(staff_id)
    await pilot.press(*pin, "enter")

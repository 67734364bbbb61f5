"""Settings a manager changes on the till's settings screen: which keys, how a typed value is
read, and how the changes kept in the till's database are laid over the configuration.

Each change needs a manager's PIN at that moment (purpose ``offline`` for the ``[offline]``
keys, ``settings`` for the others), is kept in the journal with who approved it, and applies
at once and at every later start of the till, over the file and the environment: it is the
newest deliberate choice. ``cryptopos config show`` and the settings screen name it as the
source (``till: <manager> <date>``). Headless commands read the configuration only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from terminal.config import LoadedSettings, Settings
from terminal.staff.rules import Purpose


class SettingValueError(ValueError):
    """A value the setting cannot take; the message says why (never a traceback)."""


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("on", "true", "yes", "1"):
        return True
    if t in ("off", "false", "no", "0"):
        return False
    raise SettingValueError(f"{text!r} is not on or off")


def _text(text: str) -> str:
    return text.strip()


def _seconds(text: str) -> float:
    try:
        return float(int(text.strip()))
    except ValueError:
        raise SettingValueError(f"{text!r} is not a whole number of seconds") from None


@dataclass(frozen=True, slots=True)
class Editable:
    key: str
    label: str
    purpose: Purpose
    read: Callable[[str], Any]


EDITABLE: dict[str, Editable] = {
    e.key: e
    for e in (
        Editable("offline.enabled", "offline payments (on/off)", "offline", _bool),
        Editable("offline.max_payment", "offline: most per payment", "offline", _text),
        Editable("offline.max_total", "offline: most in the queue", "offline", _text),
        Editable("staff.idle_lock_s", "lock after idle (s)", "settings", _seconds),
    )
}


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Caps are stated per currency ([offline.max_payment] EUR = "50.00"); the till edits the one of
# its own currency and keeps the others as configured.
PER_CURRENCY = frozenset({"offline.max_payment", "offline.max_total"})


def current(loaded: LoadedSettings, key: str) -> Any:
    section, name = key.split(".")
    value = getattr(getattr(loaded.settings, section), name)
    if key in PER_CURRENCY:
        return value.get(loaded.settings.terminal.fiat_currency, "none")
    return value


def changed(loaded: LoadedSettings, values: dict[str, Any], sources: dict[str, str]) -> LoadedSettings:
    """``loaded`` with ``values`` laid over it, validated as a whole (every key's own rules, and
    amounts that must be readable in the terminal's currency)."""
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise SettingValueError(f"not changeable on the till: {', '.join(unknown)}")
    data = loaded.settings.model_dump(mode="python")
    for key, value in values.items():
        section, name = key.split(".")
        if key in PER_CURRENCY and isinstance(value, str):
            data[section][name] = {**data[section][name], loaded.settings.terminal.fiat_currency: value}
        else:
            data[section][name] = value
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"][:2])
        raise SettingValueError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    from terminal.sale import offline_policy

    try:
        offline_policy(settings)  # the caps must be amounts of the terminal's currency
    except ValueError as exc:
        raise SettingValueError(f"offline caps: {exc}") from None
    return LoadedSettings(settings, {**loaded.sources, **sources})


def read_value(loaded: LoadedSettings, key: str, text: str) -> tuple[Any, LoadedSettings]:
    """The value typed for ``key`` and the settings it makes (nothing is kept yet)."""
    editable = EDITABLE.get(key)
    if editable is None:
        raise SettingValueError(f"{key} is not changeable on the till")
    value = editable.read(text)
    return value, changed(loaded, {key: value}, {})


def source_label(approver: str, at: float) -> str:
    return f"till: {approver} {datetime.fromtimestamp(at, UTC):%Y-%m-%d}"


def with_till_settings(
    loaded: LoadedSettings, rows: list[tuple[str, str, str, float]]
) -> tuple[LoadedSettings, list[str]]:
    """Lay the kept changes ``(key, JSON value, approver, at)`` over ``loaded``. A change this
    configuration no longer takes (a cap in another currency after the currency changed) is
    left out and named in the returned notes, so the till still starts."""
    notes: list[str] = []
    for key, raw, approver, at in rows:
        try:
            value = json.loads(raw)
            loaded = changed(loaded, {key: value}, {key: source_label(approver, at)})
        except (SettingValueError, ValueError) as exc:
            notes.append(f"{key} set on the till is not applied: {exc}")
    return loaded, notes

"""What the sub-commands share: exit codes, the error they raise, loading the settings.

Imported by every command module at its top level, so it imports nothing heavy itself: the
settings model (pydantic) loads when a command calls :func:`load`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terminal.config import LoadedSettings, Settings

EXIT_OK = 0
EXIT_FAILED = 1  # declined, expired, a check that failed
EXIT_USAGE = 2  # bad arguments or configuration
EXIT_UNKNOWN = 3  # payment outcome unknown


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load(args: argparse.Namespace, overrides: Mapping[str, tuple[Any, str]] | None = None) -> LoadedSettings:
    """Effective settings for a command, or a CliError listing every problem."""
    from terminal.config import ConfigError, load_settings

    try:
        loaded = load_settings(file=Path(args.config) if args.config else None, overrides=overrides)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    start_logging(loaded.settings)
    return loaded


def start_logging(settings: Settings) -> None:
    """The command's structured log ([logging]); closed when the command ends (``main``). A log
    that cannot be written is said once and the command goes on: a sale matters more."""
    from terminal import logs

    cfg = settings.logging
    path = settings.log_path()
    try:
        logs.configure(path, level=cfg.level, max_bytes=cfg.max_bytes, backups=cfg.backups)
    except OSError as exc:
        err(f"cryptopos: not logging to {path}: {exc.strerror or exc}; set [logging] path")


def err(message: str) -> None:
    print(message, file=sys.stderr)


# Every sub-command also takes --config after its name (`cryptopos pay --config F ...`).
PARENT = argparse.ArgumentParser(add_help=False)
PARENT.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="config file")


def require_readers(devices: Sequence[str]) -> None:
    """Fail fast, before any quote: every reader answers its probe within a couple of seconds
    (what ``cryptopos doctor`` checks), or the command ends with exit 2 and doctor's fix."""
    from drivers.registry import preflight

    failed = [p for p in preflight(devices) if not p.ok]
    if failed:
        raise CliError(
            "\n".join(
                f"reader {p.device}: {p.detail}" + (f"\n  fix: {p.hint}" if p.hint else "") for p in failed
            )
        )

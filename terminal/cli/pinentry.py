"""Reading a PIN on the command line: asked with getpass on a terminal (never echoed), or read
from a file that only its owner can read (for scripts). A PIN is never taken as an argument: it
would be in the shell's history and in every process listing."""

from __future__ import annotations

import getpass
import stat
import sys
from pathlib import Path

from terminal.cli.common import CliError
from terminal.staff.rules import StaffRuleError, check_pin


def pin_from_file(path: str, *, flag: str) -> str:
    """The PIN in ``path`` (its first line); refused when group or others may read the file."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        raise CliError(f"{flag} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise CliError(f"{flag} {path}: not a regular file")
    if mode & 0o077:
        raise CliError(
            f"{flag} {path}: others can read it (mode {stat.S_IMODE(mode):04o}); a file holding a PIN "
            f"must be the owner's only: chmod 600 {path}"
        )
    try:
        with p.open(encoding="ascii") as fh:
            pin = fh.readline().strip()
    except (OSError, UnicodeDecodeError):
        raise CliError(f"{flag} {path}: cannot read a PIN from it") from None
    try:
        return check_pin(pin)
    except StaffRuleError as exc:
        raise CliError(f"{flag} {path}: {exc}") from None


def read_pin(path: str | None, *, flag: str, prompt: str, confirm: bool = False) -> str:
    """From ``path`` when given, else asked on the terminal (twice when ``confirm``)."""
    if path is not None:
        return pin_from_file(path, flag=flag)
    if not sys.stdin.isatty():
        raise CliError(f"no terminal to ask the PIN on: give {flag} FILE (readable by you only: chmod 600)")
    try:
        pin = getpass.getpass(prompt)
        check_pin(pin)
        if confirm and getpass.getpass("Again: ") != pin:
            raise CliError("the two PINs differ; nothing was changed")
    except StaffRuleError as exc:
        raise CliError(str(exc)) from None
    except (EOFError, KeyboardInterrupt):
        raise CliError("no PIN given; nothing was changed") from None
    return pin

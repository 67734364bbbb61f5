"""``cryptopos`` command line. Each sub-command lives in its own module with a
``register(subparsers)`` that adds its parser and sets ``func``.

Exit codes: 0 success/approved, 1 declined/expired/failed check, 2 usage or config
error, 3 unknown payment outcome. No traceback ever reaches the user: unexpected
errors are reported in one line (``CRYPTOPOS_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from terminal.cli.common import EXIT_USAGE, CliError
from terminal.journal import JournalOpenError

# module names under terminal.cli; imported lazily so `cryptopos --help` stays fast
COMMANDS = [
    "pay",
    "config_cmd",
    "demo",
    "parse",
    "read",
    "scan",
    "doctor",
    "backend",
    "history",
    "report",
    "refund",
    "reconcile",
    "receipt",
    "serve",
    "tui",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cryptopos",
        description="Crypto point-of-sale terminal. Run without a command for the merchant screen.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="config file (default: $CRYPTOPOS_CONFIG or config/terminal.toml)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"terminal.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from terminal.cli import tui

        args.func = tui.run  # no command: the merchant screen with the configured devices
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"cryptopos: {exc}", file=sys.stderr)
        return exc.exit_code
    except JournalOpenError as exc:
        print(f"cryptopos: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # the reader of our output stopped early (`cryptopos history | head`): nothing to say;
        # stdout goes to /dev/null so the interpreter's last flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("cryptopos: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("CRYPTOPOS_DEBUG"):
            raise
        print(
            f"cryptopos: unexpected error: {type(exc).__name__}: {exc} (CRYPTOPOS_DEBUG=1 shows details)",
            file=sys.stderr,
        )
        return EXIT_USAGE if isinstance(exc, ValueError) else 1
    return code


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())

"""``cryptopos`` command line: a table of commands; a command's module is imported only when it runs.

``cryptopos --help`` is built from ``COMMANDS`` alone and imports no command module.
``cryptopos NAME ...`` (and ``cryptopos NAME --help``) imports the one module named in NAME's row
to add its arguments, then calls its ``run``.

Adding a command
----------------
1. Write ``terminal/cli/<module>.py`` with::

       def arguments(p: argparse.ArgumentParser) -> None    # add the arguments; may set p.description
       def run(args: argparse.Namespace) -> int             # do the work; return the exit code

   The module's top level imports the standard library and ``terminal.cli.common`` only:
   ``cryptopos NAME --help`` imports it, and must not pay for the settings model (pydantic),
   httpx, the payload parsers, keccak, nfcpy, OpenCV or Textual. Import what the work needs
   inside ``run`` (or the functions it calls); annotate with names imported under
   ``TYPE_CHECKING``. Sub-actions (``backend up``) ``set_defaults(func=...)``; ``func`` wins over
   ``run``.
2. Add its row to ``COMMANDS``: ``Command("name", "one-line help", "module")``, with
   ``config=False`` when the command reads no settings (it then takes no ``--config`` after its
   name).

``tests/foundation/test_cli_startup.py`` runs ``NAME --help`` for every row in a fresh
interpreter and names any heavy library it loads; ``bench/startup.py`` times the common commands.

Exit codes: 0 success/approved, 1 declined/expired/failed check, 2 usage or config
error, 3 unknown payment outcome. No traceback ever reaches the user: unexpected
errors are reported in one line (``CRYPTOPOS_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import NamedTuple

from terminal.cli.common import EXIT_USAGE, PARENT, CliError


class Command(NamedTuple):
    name: str
    help: str
    module: str  # terminal.cli.<module>: its arguments() and run()
    config: bool = True  # takes --config FILE after its name (it reads the settings)


COMMANDS = (
    Command("pay", "take one payment headless (simulated or real readers)", "pay"),
    Command("config", "show or check the configuration", "config_cmd", config=False),
    Command("demo", "a scripted headless demo on the embedded backend", "demo"),
    Command(
        "parse",
        "decode a payment QR/NFC string (bitcoin:, ethereum:, solana:, lightning, LNURL, Bolt Card...)",
        "parse",
        config=False,
    ),
    Command("read", "print each tag or code a reader reads", "read"),
    Command("scan", "decode QR codes in images or videos", "scan"),
    Command("doctor", "check readers, decoders and the backend; say how to fix what is wrong", "doctor"),
    Command("backend", "run the emulated backend as processes; canary rollouts", "backend", config=False),
    Command("history", "list the sales in the journal", "history"),
    Command("report", "the daily Z-report: totals per asset and status", "report"),
    Command("refund", "refund an approved payment to the customer's address", "refund"),
    Command("reconcile", "settle open sales and forward the offline queue", "reconcile"),
    Command("receipt", "print a sale's receipt from the journal on the receipt printer", "receipt"),
    Command("serve", "serve the merchant screen to a browser (textual-serve)", "serve"),
    Command("tui", "the merchant screen (the default command)", "tui"),
)
DEFAULT_COMMAND = "tui"  # `cryptopos` without a command


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command listed; only ``chosen``'s module is imported for its arguments."""
    parser = argparse.ArgumentParser(
        prog="cryptopos",
        description="Crypto point-of-sale terminal. Run without a command for the merchant screen.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="config file (default: $CRYPTOPOS_CONFIG or config/terminal.toml)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS:
        parents = [PARENT] if cmd.config else []
        if cmd.name != chosen:
            # a placeholder that takes anything: enough to list the command and to find which one
            # the command line names
            sub.add_parser(cmd.name, help=cmd.help, add_help=False)
            continue
        p = sub.add_parser(cmd.name, help=cmd.help, parents=parents)
        _module(cmd).arguments(p)
    return parser


def _module(cmd: Command) -> ModuleType:
    return importlib.import_module(f"terminal.cli.{cmd.module}")


def _command_of(argv: Sequence[str]) -> str | None:
    """Which command the line names, read with placeholders (``--help`` before it prints here)."""
    args, _ = build_parser().parse_known_args(argv)
    name: str | None = args.command
    return name


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = _command_of(argv) or DEFAULT_COMMAND
    args = build_parser(chosen).parse_args(argv)
    cmd = next(c for c in COMMANDS if c.name == chosen)
    # a sub-action's own function (`backend up`), else the command's run
    func: Callable[[argparse.Namespace], int] = getattr(args, "func", None) or _module(cmd).run
    try:
        return func(args)
    except CliError as exc:
        print(f"cryptopos: {exc}", file=sys.stderr)
        return exc.exit_code
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
        if _journal_open_error(exc):
            print(f"cryptopos: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if os.environ.get("CRYPTOPOS_DEBUG"):
            raise
        print(
            f"cryptopos: unexpected error: {type(exc).__name__}: {exc} (CRYPTOPOS_DEBUG=1 shows details)",
            file=sys.stderr,
        )
        return EXIT_USAGE if isinstance(exc, ValueError) else 1


def _journal_open_error(exc: Exception) -> bool:
    """A journal file that cannot be opened is a usage error. Only a command that imported the
    journal can raise one, so the journal (sqlite3) is not imported here to ask."""
    records = sys.modules.get("terminal.journal.records")
    return records is not None and isinstance(exc, records.JournalOpenError)


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())

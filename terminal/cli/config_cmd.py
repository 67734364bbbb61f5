"""``cryptopos config show|check``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from terminal.cli.common import EXIT_OK, PARENT, CliError, load


def arguments(p: argparse.ArgumentParser) -> None:
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = csub.add_parser(
        "show", parents=[PARENT], help="the effective config and where each value came from"
    )
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=show_cmd)
    check = csub.add_parser("check", help="validate a config file (exit 0 valid, 2 invalid)")
    check.add_argument("file")
    check.set_defaults(func=check_cmd)


def show_cmd(args: argparse.Namespace) -> int:
    from terminal.config import effective_rows

    loaded = load(args)
    rows = effective_rows(loaded)
    if args.json:
        print(json.dumps({k: {"value": v, "source": src} for k, v, src in rows}, indent=2))
        return EXIT_OK
    width = max(len(k) for k, _, _ in rows)
    vwidth = min(40, max(len(v) for _, v, _ in rows))
    for key, value, source in rows:
        print(f"{key:<{width}}  {value:<{vwidth}}  ({source})")
    return EXIT_OK


def check_cmd(args: argparse.Namespace) -> int:
    from terminal.config import ConfigError, load_settings

    try:
        load_settings(file=Path(args.file), env={})
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    print(f"{args.file}: valid")
    return EXIT_OK

"""``cryptopos staff add|list|disable|enable|reset-pin|sync``: the till's staff.

Cashiers are managed here: their PIN is kept on the till only as a salted scrypt hash, so they
sign in while the backend is unreachable. Managers live on the backend (their PIN never touches
the till): ``cryptopos backend staff add NAME --role manager``, then ``cryptopos staff sync``.
On the embedded default, ``add --role manager`` creates the manager on the embedded backend
through its test-mode endpoint, then syncs. A PIN is asked with getpass on a terminal, or read
from ``--pin-file`` (a file only its owner can read).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from terminal.cli.common import EXIT_OK, PARENT, CliError, load
from terminal.staff.rules import ROLES

if TYPE_CHECKING:
    from terminal.config import Settings
    from terminal.journal import Journal, StaffRecord
    from terminal.staff.desk import StaffDesk

PIN_FILE_HELP = "a file holding the PIN, readable by its owner only (default: asked on the terminal)"


def arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="staff_action", metavar="ACTION", required=True)

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = actions.add_parser(name, parents=[PARENT], help=help_)
        a.add_argument("--journal", help="the till's database (default: journal.path)")
        return a

    add = action("add", "add a cashier (a manager: on the backend, see --role)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="cashier")
    add.add_argument("--id", dest="staff_id", help="the staff id (default: s_ and 10 random characters)")
    add.add_argument("--pin-file", help=PIN_FILE_HELP)
    add.add_argument("--backend", help="'embedded' or the backend's URL (managers; default: backend.url)")
    lst = action("list", "who is on this till")
    lst.add_argument("--json", action="store_true", help="print a JSON array")
    for name, what in (("disable", "disable"), ("enable", "enable again")):
        a = action(name, f"{what} a member of staff")
        a.add_argument("staff_id")
    reset = action("reset-pin", "set a cashier's new PIN (clears a lockout)")
    reset.add_argument("staff_id")
    reset.add_argument(
        "--pin-file", help="a file holding the PIN, readable by its owner only (default: asked)"
    )
    sync = action("sync", "learn the backend's staff (managers): ids, names, roles, disabled flags")
    sync.add_argument("--backend", help="'embedded' or the backend's URL (default: backend.url)")


def _state(m: StaffRecord, now: float) -> str:
    if m.disabled:
        return "disabled"
    if m.locked_until is not None and m.locked_until > now:
        return f"locked until {datetime.fromtimestamp(m.locked_until, UTC):%H:%M:%S} UTC"
    return "active"


def member_json(m: StaffRecord, now: float) -> dict[str, Any]:
    return {
        "staff_id": m.staff_id,
        "name": m.name,
        "role": m.role,
        "disabled": m.disabled,
        "state": _state(m, now),
        "pin": "on this till" if m.has_pin else ("on the backend" if m.role == "manager" else "none"),
        "failed_pins": m.failed_pins,
        "origin": m.origin,
    }


def run(args: argparse.Namespace) -> int:
    from terminal.journal import Journal
    from terminal.staff.desk import StaffDesk, StaffError
    from terminal.staff.rules import StaffRuleError

    overrides = {"journal.path": (args.journal, "--journal")}
    if getattr(args, "backend", None) is not None:
        overrides["backend.url"] = (args.backend, "--backend")
    settings = load(args, overrides).settings
    if args.staff_action == "list" and not settings.journal.path.exists():
        raise CliError(
            f"no till database at {settings.journal.path}; nobody was added with this configuration"
        )
    journal = Journal(settings.journal.path)
    desk = StaffDesk(journal)
    try:
        return _act(args, settings, journal, desk)
    except StaffError as exc:
        raise CliError(f"{exc.title}: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")) from None
    except StaffRuleError as exc:
        raise CliError(str(exc)) from None
    finally:
        journal.close()


def _act(args: argparse.Namespace, settings: Settings, journal: Journal, desk: StaffDesk) -> int:
    from terminal.cli.pinentry import read_pin
    from terminal.staff.rules import check_name, check_staff_id

    action = args.staff_action
    if action == "list":
        now = time.time()
        members = journal.staff()
        if args.json:
            print(json.dumps([member_json(m, now) for m in members]))
        elif not members:
            print("nobody on this till yet: cryptopos staff add NAME")
        for m in [] if args.json else members:
            row = member_json(m, now)
            print(f"{m.staff_id:<20} {m.name[:24]:<24} {m.role:<8} {row['state']:<10} PIN {row['pin']}")
        return EXIT_OK
    if action == "add":
        name = check_name(args.name)
        staff_id = check_staff_id(args.staff_id) if args.staff_id else None
        if args.role == "manager":
            return _add_manager(args, settings, journal, desk, name, staff_id)
        pin = read_pin(
            args.pin_file, flag="--pin-file", prompt=f"PIN for {name} (4-8 digits): ", confirm=True
        )
        member = desk.add_cashier(name, pin, staff_id=staff_id)
        print(member.staff_id)
        return EXIT_OK
    if action in ("disable", "enable"):
        member = desk.set_disabled(args.staff_id, action == "disable")
        print(f"{member.staff_id} {member.name}: {'disabled' if member.disabled else 'enabled'}")
        return EXIT_OK
    if action == "reset-pin":
        member = desk.cashier(args.staff_id)
        pin = read_pin(args.pin_file, flag="--pin-file", prompt=f"New PIN for {member.name}: ", confirm=True)
        desk.reset_pin(args.staff_id, pin)
        print(f"{member.staff_id} {member.name}: new PIN set")
        return EXIT_OK
    assert action == "sync"
    import asyncio

    report = asyncio.run(_sync(settings, desk))
    print(", ".join(f"{len(v)} {k}" + (f" ({', '.join(v)})" if v else "") for k, v in report.items()))
    return EXIT_OK


async def _sync(settings: Settings, desk: StaffDesk) -> dict[str, list[str]]:
    from terminal.client import BackendError
    from terminal.client.factory import client_from_settings

    try:
        async with client_from_settings(settings) as client:
            return await desk.sync(client)
    except BackendError as exc:
        raise CliError(f"{exc.title}: {exc.message}") from None


def _add_manager(
    args: argparse.Namespace,
    settings: Settings,
    journal: Journal,
    desk: StaffDesk,
    name: str,
    staff_id: str | None,
) -> int:
    if settings.backend.url != "embedded":
        raise CliError(
            "a manager's PIN lives only on the backend: run `cryptopos backend staff add "
            f"{name!r} --role manager` where the backend runs, then `cryptopos staff sync` here"
        )
    import asyncio
    import secrets

    from terminal.cli.pinentry import read_pin
    from terminal.staff.demo import TEST_STAFF_PATH
    from terminal.staff.rules import new_staff_id

    staff_id = staff_id or new_staff_id(secrets.token_bytes(7))
    if journal.staff_member(staff_id) is not None:
        raise CliError(f"staff id {staff_id} is already on this till; pick another --id")
    pin = read_pin(args.pin_file, flag="--pin-file", prompt=f"PIN for {name} (4-8 digits): ", confirm=True)

    async def create() -> dict[str, list[str]]:
        from terminal.client import BackendError
        from terminal.client.factory import client_from_settings

        body = {"staff_id": staff_id, "name": name, "role": "manager", "pin": pin}
        try:
            async with client_from_settings(settings) as client:
                await client.request_json("POST", TEST_STAFF_PATH, body)
                return await desk.sync(client)
        except BackendError as exc:
            raise CliError(
                f"the embedded backend did not take the manager: {exc.title}: {exc.message}"
            ) from None

    asyncio.run(create())
    print(staff_id)
    return EXIT_OK

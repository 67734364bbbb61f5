"""``python -m backend_stub.admin``: what ``cryptopos backend terminal|pg`` run (the terminal's CLI
starts this as a process; it does not import the backend).

- ``terminal add|rotate|revoke|list``: the terminals table of the ledger the backend in the run
  directory uses (or ``--store URL``). Running instances see the change within their key cache
  time (2 s), without a restart. A new secret is printed once: the till's ``signing.secret``;
  the ledger keeps it sealed.
- ``staff add|list|disable|reset-pin``: the merchant's managers (whose PINs approve refunds and
  the till's step-ups) in the same ledger; ``add`` prints the new id. A PIN is asked twice with
  getpass on a terminal, else read from ``--pin-file`` (which only its owner may read); it is never
  printed. ``reset-pin`` clears the member's lockout.
- ``fleet``: each terminal's last heartbeat in the same ledger (build, readers, offline queue,
  unknown outcomes, last reconcile, last seen); ``cryptopos backend status`` prints it.
- ``pg``: a local PostgreSQL for trying ``backend up --store`` (pgserver's binaries, a data
  folder of its own, a UNIX socket): prints its URL; ``pg --stop`` stops it.

Exit codes: 0 ok, 1 the ledger does not answer, 2 usage or a refusal (unknown terminal...).
"""

from __future__ import annotations

import argparse
import getpass
import json
import stat
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from backend_stub.store import Store, StoreError, StoreUnavailableError, health, staff
from backend_stub.store.runtime import open_store, resolve_url
from terminal.domain.pins import valid_pin

DEFAULT_PG_DIR = Path(".cryptopos/pg")


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    try:
        return float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m, 24h or 7d") from None


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    if ts == float("inf"):
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cryptopos backend")
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("terminal", help="terminal keys in the ledger")
    t.add_argument("--run-dir", default=".cryptopos/backend")
    t.add_argument("--store", help="the ledger URL (default: the one the backend in --run-dir uses)")
    tsub = t.add_subparsers(dest="action", required=True)
    add = tsub.add_parser("add")
    add.add_argument("key_id")
    add.add_argument("--note", default="")
    add.add_argument("--secret", help="use this secret (the till's signing.secret) instead of a random one")
    rot = tsub.add_parser("rotate")
    rot.add_argument("key_id")
    rot.add_argument("--grace", type=_duration, default=24 * 3600.0, help="old key valid this long (24h)")
    rot.add_argument("--secret")
    rev = tsub.add_parser("revoke")
    rev.add_argument("key_id")
    ls = tsub.add_parser("list")
    ls.add_argument("--json", action="store_true")
    st = sub.add_parser("staff", help="managers (and cashiers) in the ledger")
    st.add_argument("--run-dir", default=".cryptopos/backend")
    st.add_argument("--store", help="the ledger URL (default: the one the backend in --run-dir uses)")
    ssub = st.add_subparsers(dest="action", required=True)
    s_add = ssub.add_parser("add")
    s_add.add_argument("name")
    s_add.add_argument("--role", choices=("manager", "cashier"), default="manager")
    s_add.add_argument("--id", dest="staff_id", help="the staff id (default: s_ and 10 random characters)")
    s_add.add_argument("--pin-file", type=Path, help="a file holding the PIN, readable by its owner only")
    s_ls = ssub.add_parser("list")
    s_ls.add_argument("--json", action="store_true")
    s_dis = ssub.add_parser("disable")
    s_dis.add_argument("staff_id")
    s_pin = ssub.add_parser("reset-pin")
    s_pin.add_argument("staff_id")
    s_pin.add_argument("--pin-file", type=Path)
    fl = sub.add_parser("fleet", help="each terminal's last heartbeat")
    fl.add_argument("--run-dir", default=".cryptopos/backend")
    fl.add_argument("--store", help="the ledger URL (default: the one the backend in --run-dir uses)")
    fl.add_argument("--json", action="store_true")
    pg = sub.add_parser("pg", help="a local PostgreSQL for trials (pgserver)")
    pg.add_argument("--dir", default=str(DEFAULT_PG_DIR))
    pg.add_argument("--stop", action="store_true")
    return p


def terminal(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir).resolve()
    store = open_store(run_dir, resolve_url(run_dir, given=args.store))
    try:
        return _terminal(store, args)
    finally:
        store.close()


def _secret(text: str | None) -> bytes | None:
    if text is None:
        return None
    if len(text) < 16 or not text.isprintable():
        raise SystemExit("cryptopos backend terminal: a secret needs at least 16 printable characters")
    return text.encode()


def _terminal(store: Store, args: argparse.Namespace) -> int:
    now = time.time()
    try:
        if args.action == "add":
            secret = store.add_terminal(args.key_id, now=now, secret=_secret(args.secret), note=args.note)
            print(f"added terminal {args.key_id}; its secret (shown once): {secret.decode()}")
        elif args.action == "rotate":
            secret = store.rotate_terminal(
                args.key_id, now=now, grace_s=args.grace, secret=_secret(args.secret)
            )
            print(
                f"rotated terminal {args.key_id}; new secret (shown once): {secret.decode()}; "
                f"the old one works until {_when(now + args.grace)}"
            )
        elif args.action == "revoke":
            store.revoke_terminal(args.key_id, now=now)
            print(f"revoked terminal {args.key_id}: its requests are refused from now on")
        else:
            rows = store.list_terminals()
            if args.json:
                print(json.dumps([_as_json(t) for t in rows], indent=2))
            for t in [] if args.json else rows:
                state = f"revoked {_when(t.revoked_at)}" if t.revoked_at is not None else "active"
                print(f"{t.key_id:<24} {state:<32} {t.note}")
                for version, created, expires in t.keys:
                    valid = "valid" if expires is None or expires > now else "expired"
                    print(f"    key v{version}  created {_when(created)}  expires {_when(expires)}  {valid}")
    except KeyError:
        verb = "exists already" if args.action == "add" else "is unknown or revoked"
        print(f"cryptopos backend terminal: terminal {args.key_id} {verb}", file=sys.stderr)
        return 2
    return 0


def _as_json(t: object) -> dict[str, object]:
    from backend_stub.store import TerminalInfo

    assert isinstance(t, TerminalInfo)
    return {
        "key_id": t.key_id,
        "note": t.note,
        "created_at": t.created_at,
        "revoked_at": t.revoked_at,
        "keys": [{"version": v, "created_at": c, "expires_at": e} for v, c, e in t.keys],
    }


class PinInputError(Exception):
    """No PIN could be read (the message says why; it never holds the PIN)."""


def read_pin(pin_file: Path | None, *, required: bool) -> str | None:
    """The PIN from ``pin_file`` (which only its owner may read), else asked twice with getpass
    on a terminal; ``None`` when none is given and none is ``required``."""
    if pin_file is not None:
        try:
            st = pin_file.stat()
            text = pin_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise PinInputError(
                f"cannot read the PIN file {pin_file}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PinInputError(
                f"the PIN file {pin_file} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run: chmod 600 {pin_file}"
            )
        pin = text.strip()
    elif sys.stdin.isatty():
        if not required:
            return None
        pin = getpass.getpass("PIN (4-8 digits): ")
        if getpass.getpass("the same PIN again: ") != pin:
            raise PinInputError("the two PINs differ; nothing was changed")
    elif required:
        raise PinInputError(
            "a manager needs a PIN: give --pin-file FILE (mode 600), or run this on a terminal"
        )
    else:
        return None
    if not valid_pin(pin):
        raise PinInputError("a PIN is 4 to 8 digits")
    return pin


def staff_cmd(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir).resolve()
    try:
        pin = None
        if args.action == "add":
            pin = read_pin(args.pin_file, required=args.role == "manager")
        elif args.action == "reset-pin":
            pin = read_pin(args.pin_file, required=True)
    except PinInputError as exc:
        print(f"cryptopos backend staff: {exc}", file=sys.stderr)
        return 2
    store = open_store(run_dir, resolve_url(run_dir, given=args.store))
    try:
        return _staff(store, args, pin)
    except staff.StaffError as exc:
        print(f"cryptopos backend staff: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _staff(store: Store, args: argparse.Namespace, pin: str | None) -> int:
    now = time.time()
    if args.action == "add":
        sid = staff.add_staff(store, name=args.name, role=args.role, pin=pin, now=now, staff_id=args.staff_id)
        print(sid)
        print(f"added {args.role} {staff.check_name(args.name)} as {sid}", file=sys.stderr)
    elif args.action == "disable":
        staff.disable_staff(store, args.staff_id, now=now)
        print(f"disabled {args.staff_id}: their PIN approves nothing from now on")
    elif args.action == "reset-pin":
        assert pin is not None
        staff.reset_pin(store, args.staff_id, pin, now=now)
        print(f"new PIN for {args.staff_id}; their wrong-PIN count and lockout are cleared")
    else:
        members = staff.list_staff(store)
        if args.json:
            print(json.dumps([_member_json(m) for m in members], indent=2))
        for m in [] if args.json else members:
            state = "disabled" if m.disabled else "active"
            if m.locked_until is not None and m.locked_until > now:
                state += f", locked until {_when(m.locked_until)}"
            elif m.failed:
                state += f", {m.failed} wrong PIN(s)"
            print(f"{m.staff_id:<24} {m.role:<8} {state:<40} {m.name}")
    return 0


def _member_json(m: staff.StaffMember) -> dict[str, object]:
    return {
        "staff_id": m.staff_id,
        "name": m.name,
        "role": m.role,
        "disabled": m.disabled,
        "has_pin": m.has_pin,
        "failed": m.failed,
        "locked_until": m.locked_until,
        "created_at": m.created_at,
    }


def local_pg(args: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from pgserver import postgres_server
    except ImportError:
        print("cryptopos backend pg needs pgserver: pip install pgserver", file=sys.stderr)
        return 2
    folder = Path(args.dir).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    if args.stop:
        if not (folder / "postmaster.pid").exists():
            print(f"no PostgreSQL runs in {folder}")
            return 0
        server = postgres_server.get_server(folder, cleanup_mode="stop")
        server.cleanup()
        print(f"stopped the PostgreSQL in {folder}")
        return 0
    # cleanup_mode=None: the server outlives this command; `pg --stop` ends it
    server = postgres_server.get_server(folder, cleanup_mode=None)
    print(server.get_uri())
    return 0


def fleet_cmd(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir).resolve()
    store = open_store(run_dir, resolve_url(run_dir, given=args.store))
    try:
        rows = health.fleet(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps([t.as_json() for t in rows], indent=2))
        return 0
    print(f"\nfleet: {len(rows)} terminal(s) reporting")
    for t in rows:
        readers = ", ".join(f"{r.device} {r.state}" for r in t.readers) or "none"
        print(
            f"  {t.key_id:<20} {t.version:<10} last seen {_when(t.seen_at)}  queue {t.queue_depth}  "
            f"unknown {t.unknown_outcomes}  reconciled {_when(t.last_reconcile_at)}  readers: {readers}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.what == "staff":
            return staff_cmd(args)
        if args.what == "fleet":
            return fleet_cmd(args)
        return terminal(args) if args.what == "terminal" else local_pg(args)
    except StoreUnavailableError as exc:
        print(f"cryptopos backend: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"cryptopos backend: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover - process entry point
    sys.exit(main())

"""``python -m backend_stub.admin``: what ``cryptopos backend terminal|pg`` run (the terminal's CLI
starts this as a process; it does not import the backend).

- ``terminal add|rotate|revoke|list``: the terminals table of the ledger the backend in the run
  directory uses (or ``--store URL``). Running instances see the change within their key cache
  time (2 s), without a restart. A new secret is printed once: the till's ``signing.secret``;
  the ledger keeps it sealed.
- ``pg``: a local PostgreSQL for trying ``backend up --store`` (pgserver's binaries, a data
  folder of its own, a UNIX socket): prints its URL; ``pg --stop`` stops it.

Exit codes: 0 ok, 1 the ledger does not answer, 2 usage or a refusal (unknown terminal...).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from backend_stub.store import Store, StoreError, StoreUnavailableError
from backend_stub.store.runtime import open_store, resolve_url

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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return terminal(args) if args.what == "terminal" else local_pg(args)
    except StoreUnavailableError as exc:
        print(f"cryptopos backend: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"cryptopos backend: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover - process entry point
    sys.exit(main())

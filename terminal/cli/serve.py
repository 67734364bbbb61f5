"""``cryptopos serve [--host 127.0.0.1] [--port 8000]``: the merchant screen in a browser, for a
tablet on the counter. textual-serve runs ``cryptopos tui`` (``--demo``: the demo till) for each
browser that connects and draws it in the page.

Access. textual-serve has no access control of its own (no token, no password, no Origin check:
any page a browser on the machine opens could drive the till through its websocket). So:

* on loopback (the default) the page and its websocket answer only to ``localhost`` /
  ``127.0.0.1`` / ``[::1]`` host names and a websocket from the page's own origin (against DNS
  rebinding and cross-site websockets);
* beyond loopback it refuses to start without an access token (``--token`` or
  ``$CRYPTOPOS_SERVE_TOKEN``, at least 16 characters). The first visit is ``/?token=...``; the
  till then keeps an HttpOnly, SameSite=Strict cookie derived from the token. The token travels
  in clear text without TLS: for anything but a trusted shop network, keep the till on loopback
  behind a reverse proxy that adds TLS and its own login (docs/serve.md).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import os
import shlex
import sys
from collections.abc import Mapping

from terminal.cli.common import EXIT_OK, CliError

TOKEN_ENV = "CRYPTOPOS_SERVE_TOKEN"  # noqa: S105 - the variable's name, not a token
MIN_TOKEN = 16
COOKIE = "cryptopos_till"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--token",
        help=f"access token, required beyond loopback (default: ${TOKEN_ENV}); {MIN_TOKEN}+ characters",
    )
    p.add_argument("--public-url", help="the address browsers use, when it is not http://HOST:PORT (a proxy)")
    p.add_argument(
        "--demo", action="store_true", help="serve the demo till (embedded backend, simulated readers)"
    )
    p.add_argument(
        "--journal", help="journal path for the served till (with --demo: default a temporary one)"
    )


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def till_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve starts for each browser: this Python, this configuration."""
    argv = [sys.executable, "-m", "terminal"]
    if getattr(args, "config", None):
        argv += ["--config", os.path.abspath(args.config)]
    argv.append("tui")
    if args.demo:
        argv.append("--demo")
    if args.journal:
        argv += ["--journal", os.path.abspath(args.journal)]
    return shlex.join(argv)


def cookie_value(token: str) -> str:
    """What the browser keeps: derived from the token, so a new token logs every tablet out."""
    return hmac.new(token.encode(), b"cryptopos serve session", hashlib.sha256).hexdigest()


def access_token(flag: str | None, env: Mapping[str, str]) -> str | None:
    """The token from ``--token`` or the environment; one too short to resist guessing is refused."""
    token = flag or env.get(TOKEN_ENV) or None
    if token is not None and len(token) < MIN_TOKEN:
        raise CliError(f"the access token is too short ({len(token)} characters); use at least {MIN_TOKEN}")
    return token


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port} is not a port number (1-65535)")
    token = access_token(args.token, os.environ)
    if not is_loopback(args.host) and token is None:
        raise CliError(
            f"refusing to serve the till on {args.host}: beyond this machine anyone who can reach the port "
            f"could take payments and refunds. Give an access token (--token or ${TOKEN_ENV}, at least "
            f"{MIN_TOKEN} characters), or keep --host 127.0.0.1 behind a reverse proxy with TLS and a login "
            "(docs/serve.md)"
        )
    try:
        from terminal.serve import TillServer
    except ImportError as exc:
        raise CliError(
            f"cryptopos serve needs textual-serve ({exc.name}): pip install 'cryptopos[serve]'"
        ) from None
    os.environ.pop(TOKEN_ENV, None)  # the served till does not need it
    server = TillServer(
        till_command(args),
        host=args.host,
        port=args.port,
        token=token,
        public_url=args.public_url,
    )
    server.serve()
    return EXIT_OK

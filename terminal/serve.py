"""textual-serve's server with the access checks it lacks (see :mod:`terminal.cli.serve`).

Every route but the static files (scripts, fonts and styles, the same for everyone) is checked:
the page, its websocket (which starts a till process) and downloads.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from terminal.cli.serve import COOKIE, LOOPBACK_NAMES, cookie_value, is_loopback


class TillServer(Server):
    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str | None,
        public_url: str | None = None,
    ) -> None:
        super().__init__(command, host=host, port=port, title="cryptopos", public_url=public_url)
        self.token = token
        self.fixed_public_url = public_url
        self.loopback_only = is_loopback(host) and token is None
        # a reverse proxy's address, named by the operator, is the till's own too
        public = urlsplit(public_url) if public_url else None
        self.public_host = public.hostname if public else None
        self.public_origin = public.netloc if public else None

    # -- checks ---------------------------------------------------------------------------

    def _host_allowed(self, request: web.Request) -> bool:
        if not self.loopback_only:
            return True
        name = urlsplit(f"//{request.host}").hostname or ""
        return name in LOOPBACK_NAMES or is_loopback(name) or name == self.public_host

    def _has_access(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        return hmac.compare_digest(request.cookies.get(COOKIE, ""), cookie_value(self.token))

    def _forbidden(self, why: str) -> web.Response:
        return web.Response(status=403, text=f"cryptopos: {why}\n", content_type="text/plain")

    # -- routes ---------------------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> Any:
        if not self._host_allowed(request):
            return self._forbidden("this till answers on localhost only")
        offered = request.query.get("token")
        if self.token is not None and offered is not None:
            if not hmac.compare_digest(offered.encode(), self.token.encode()):
                return self._forbidden("wrong access token")
            # keep it in an HttpOnly cookie and take it out of the address bar (and its history)
            response = web.HTTPFound("/")
            response.set_cookie(COOKIE, cookie_value(self.token), httponly=True, samesite="Strict", path="/")
            raise response
        if not self._has_access(request):
            return self._forbidden("open the till's address with ?token=ACCESS_TOKEN once")
        if self.fixed_public_url is None:
            # the address the browser used, so the page's websocket goes where the page came from
            # (listening on 0.0.0.0 would otherwise send it to ws://0.0.0.0)
            self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> Any:
        if not self._host_allowed(request):
            return self._forbidden("this till answers on localhost only")
        if not self._has_access(request):
            return self._forbidden("no access: open the till's page first")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc not in (request.host, self.public_origin):
            # a websocket opened by another site's page in the same browser: never the till's own
            return self._forbidden(f"websocket from another origin ({origin})")
        return await super().handle_websocket(request)

    async def handle_download(self, request: web.Request) -> Any:
        if not (self._host_allowed(request) and self._has_access(request)):
            return self._forbidden("no access")
        return await super().handle_download(request)

    async def on_startup(self, app: web.Application) -> None:
        where = self.fixed_public_url or f"http://{self.host}:{self.port}"
        self.console.print(f"cryptopos: serving the till on {where}/")
        if self.token is not None:
            self.console.print(f"  first visit from each browser: {where}/?token=<the access token>")
        self.console.print("  Ctrl+C stops it")

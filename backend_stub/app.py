"""App factories of the emulated backend.

``create_service_app(service, store=, settings=, build=)`` serves every API version of one
service (so a gateway can run several instances of each service and build);
``create_app(...)`` serves both services in one app (embedded mode, simple tests). Each
API version is its own FastAPI app mounted at ``/{service}/{version}`` with its own
OpenAPI schema at ``/{service}/{version}/openapi.json``.

Every app also answers ``GET /healthz`` (liveness: the process runs), ``GET /readyz``
(readiness: the store answers and the app accepts traffic; set ``app.state.accepting =
False`` to drain) and ``GET /discovery``. Responses carry ``X-Cp-Build``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.auth import Authenticator
from backend_stub.problems import HANDLERS, problem_response
from backend_stub.services.common import Context
from backend_stub.services.payments import v1 as payments_v1
from backend_stub.services.payments import v2 as payments_v2
from backend_stub.services.rates import v1 as rates_v1
from backend_stub.services.rates import v2 as rates_v2
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store, StoreUnavailableError
from backend_stub.transport import DropResponseMiddleware
from backend_stub.versions import VersionHeadersMiddleware, discovery_document

__all__ = ["SERVICES", "Service", "ServiceSettings", "Store", "create_app", "create_service_app"]

Service = Literal["rates", "payments"]
SERVICES: tuple[Service, ...] = ("rates", "payments")

log = logging.getLogger(__name__)

_ROUTERS = {
    ("rates", "v1"): rates_v1.router,
    ("rates", "v2"): rates_v2.router,
    ("payments", "v1"): payments_v1.router,
    ("payments", "v2"): payments_v2.router,
}


class BuildHeaderMiddleware:
    """Tags every response with the build that produced it (per-build metrics, debugging)."""

    def __init__(self, app: ASGIApp, *, build: str) -> None:
        self.app = app
        self.header = (b"x-cp-build", build.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, tagged)


async def _on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database does not answer (down, restarting, no connection within the pool's timeout):
    # a moment to wait, not a bug, and no traceback. A write may or may not have committed; a
    # client inquires before resending, as after any 5xx. The message (URL, no password) is logged.
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        503,
        "store-unavailable",
        "Ledger unavailable",
        "the ledger does not answer; try again shortly",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


ERROR_HANDLERS = {**HANDLERS, StoreUnavailableError: _on_store_unavailable}


def _version_app(service: str, version: str, ctx: Context, auth: Authenticator) -> FastAPI:
    app = FastAPI(
        title=f"cryptopos {service} {version} (emulated)",
        version=ctx.build,
        description=f"The {service} service, API {version}. Wire contract: docs/api.md.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    for exc_type, handler in ERROR_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.include_router(_ROUTERS[(service, version)](ctx, auth))
    app.add_middleware(DropResponseMiddleware)
    return app


def _mount_service(app: FastAPI, service: str, ctx: Context, auth: Authenticator) -> None:
    for version in ("v1", "v2"):
        sub = _version_app(service, version, ctx, auth)
        wrapped = VersionHeadersMiddleware(
            sub, service=service, version=version, versions=ctx.settings.versions, clock=ctx.settings.clock
        )
        app.mount(f"/{service}/{version}", wrapped, name=f"{service}-{version}")


def _base_app(
    ctx: Context, services: Iterable[Service], title: str, *, discovery_for: Iterable[Service] = ()
) -> FastAPI:
    served = tuple(services)
    listed = tuple(discovery_for) or served
    app = FastAPI(title=title, version=ctx.build, openapi_url=None, docs_url=None, redoc_url=None)
    for exc_type, handler in ERROR_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.state.context = ctx
    app.state.accepting = True
    ops = APIRouter()

    @ops.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "build": ctx.build}

    @ops.get("/readyz")
    async def readyz() -> JSONResponse:
        if not app.state.accepting:
            return problem_response(503, "not-ready", "Not accepting traffic", "draining")
        if not await run_in_threadpool(ctx.store.ping):
            return problem_response(503, "not-ready", "Store unavailable", "the ledger does not answer")
        return JSONResponse({"status": "ready", "build": ctx.build, "services": list(served)})

    @ops.get("/discovery")
    async def discovery() -> dict[str, Any]:
        return discovery_document(ctx.settings, services=listed)

    app.include_router(ops)
    for service in served:
        _mount_service(app, service, ctx, Authenticator(store=ctx.store, settings=ctx.settings))
    app.add_middleware(BuildHeaderMiddleware, build=ctx.build)
    return app


def create_service_app(
    service: Service,
    *,
    store: Store,
    settings: ServiceSettings,
    build: str = "1.4.0",
    discovery: Iterable[Service] = (),
) -> FastAPI:
    """One service, all its API versions: what one instance ("container") runs.

    ``GET /discovery`` lists this service, or the services in ``discovery``: where no gateway
    merges every service's document (Kubernetes, deploy/k8s), the instances behind the
    Ingress's ``/discovery`` route answer for the whole deployment's version policy."""
    for name in (service, *discovery):
        if name not in SERVICES:
            raise ValueError(f"unknown service {name!r}; services: {', '.join(SERVICES)}")
    ctx = Context.create(store=store, settings=settings, build=build)
    return _base_app(ctx, (service,), f"cryptopos {service} (emulated)", discovery_for=discovery)


def create_app(
    *, store: Store | None = None, settings: ServiceSettings | None = None, build: str = "1.4.0"
) -> FastAPI:
    """Every service in one app. Without a store, a temporary one is made (and removed at shutdown)."""
    own_store = store is None
    the_store = store if store is not None else Store.temporary()
    ctx = Context.create(store=the_store, settings=settings or ServiceSettings(), build=build)
    app = _base_app(ctx, SERVICES, "cryptopos backend (emulated)")
    if own_store:
        app.router.on_shutdown.append(the_store.close)
    return app

"""The control API of a running deployment, under ``/_platform/`` on the gateway.

Read-only (no token): ``GET status``, ``GET query?query=PROMQL`` (an instant query over the
instances' scraped metrics, answered in the shape of Prometheus' ``/api/v1/query``: what the
analyses and the autoscaler see). Changes need the run's
control token in ``X-Cp-Control-Token`` (a file only the owner can read in the run
directory): ``POST deploy {service, build, plan?, faults?}``, ``POST promote {service,
full?}``, ``POST abort {service}``, ``POST shutdown``. Errors are problem documents.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend_stub.cluster import ClusterError
from backend_stub.deployment import Deployment
from backend_stub.faults import FaultError, FaultSpec
from backend_stub.monitoring import describe
from backend_stub.promql import QueryError
from backend_stub.rollout import PlanError, RolloutError

TOKEN_HEADER = "x-cp-control-token"  # noqa: S105 - a header name, not a secret


def _problem(status: int, slug: str, title: str, detail: str = "") -> JSONResponse:
    body = {
        "type": f"https://cryptopos.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _sample(v: float) -> str:
    """Prometheus' API gives sample values as strings (NaN, +Inf included)."""
    return describe(v)


def control_app(deployment: Deployment, *, token: str, on_shutdown: Callable[[], None]) -> Starlette:
    async def body_of(request: Request) -> dict[str, Any]:
        if not await request.body():
            return {}
        try:
            data = await request.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    def authorised(request: Request) -> bool:
        return hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), token)

    async def command(request: Request, run: Callable[[dict[str, Any]], Any]) -> JSONResponse:
        if not authorised(request):
            return _problem(401, "bad-control-token", "Control token missing or wrong")
        try:
            data = await body_of(request)
            result = await run(data)
        except (ValueError, KeyError) as exc:  # PlanError and FaultError are ValueErrors
            slug = (
                "bad-plan"
                if isinstance(exc, PlanError)
                else "bad-fault"
                if isinstance(exc, FaultError)
                else "bad-request"
            )
            return _problem(422, slug, "Cannot do that", str(exc).strip("'\""))
        except ClusterError as exc:
            return _problem(404, "unknown", "Unknown service or build", str(exc))
        except RolloutError as exc:
            return _problem(409, "rollout-conflict", "Not possible now", str(exc))
        return JSONResponse(result)

    async def status(request: Request) -> JSONResponse:
        return JSONResponse(deployment.status())

    async def query(request: Request) -> JSONResponse:
        text = request.query_params.get("query", "")
        now = deployment.clock.now()
        try:
            value = deployment.cluster.monitoring.query(text, now=now)
        except QueryError as exc:
            return _problem(400, "bad-query", "Cannot run that query", str(exc))
        if isinstance(value, float):
            data: dict[str, Any] = {"resultType": "scalar", "result": [now, _sample(value)]}
        else:
            data = {
                "resultType": "vector",
                "result": [{"metric": dict(labels), "value": [now, _sample(v)]} for labels, v in value],
            }
        return JSONResponse({"status": "success", "data": data})

    async def deploy(data: dict[str, Any]) -> Any:
        service, build = str(data["service"]), str(data["build"])
        plan_path = data.get("plan")
        faults = FaultSpec.parse([str(f) for f in data.get("faults") or []]) if data.get("faults") else None
        plan = deployment.plan_for(service, Path(plan_path) if plan_path else None)
        return await deployment.deploy(service, build, plan=plan, faults=faults)

    async def promote(data: dict[str, Any]) -> Any:
        ro = await deployment.rollouts.promote(str(data["service"]), full=bool(data.get("full")))
        return ro.as_json(deployment.clock.now())

    async def abort(data: dict[str, Any]) -> Any:
        ro = await deployment.rollouts.abort(str(data["service"]))
        return ro.as_json(deployment.clock.now())

    async def shutdown(data: dict[str, Any]) -> Any:
        asyncio.get_running_loop().call_soon(on_shutdown)
        return {"status": "stopping"}

    def post(run: Callable[[dict[str, Any]], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            return await command(request, run)

        return endpoint

    return Starlette(
        routes=[
            Route("/_platform/status", status),
            Route("/_platform/query", query),
            Route("/_platform/deploy", post(deploy), methods=["POST"]),
            Route("/_platform/promote", post(promote), methods=["POST"]),
            Route("/_platform/abort", post(abort), methods=["POST"]),
            Route("/_platform/shutdown", post(shutdown), methods=["POST"]),
        ]
    )

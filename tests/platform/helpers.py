"""Shared helpers of the platform tests: small topologies, plans and a tiny service app."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend_stub.rollout import RolloutPlan
from backend_stub.rollout.plan import parse_plan
from backend_stub.topology import BuildConfig, Topology, parse_topology
from backend_stub.transport import InProcessTransport
from terminal.domain import signing

KEY_ID, SECRET = "t_test", b"s" * 32

# `backend up` returns once the gateway listens; its instances may still be importing their
# app, and a first request waits in their listen backlog meanwhile. Three instances starting at
# once took 6-14 s to all answer at load 6-8 on 2 cores (on main as on this branch; 2-4 s
# each alone): a bound for that first answer, not a speed target.
INSTANCE_START_S = 30.0


# one rates and two payments instances: the least a process test needs
SMALL_TOPOLOGY = """
[services.rates]
stable = "1.0.0"
replicas = 1
[services.rates.builds."1.0.0"]
[services.payments]
stable = "1.4.0"
replicas = 2
[services.payments.builds."1.4.0"]
"""


def first_answer(url: str) -> httpx.Response:
    """``GET url`` on an instance that may still be starting."""
    return httpx.get(url, timeout=INSTANCE_START_S)


def signed(path: str, *, method: str = "GET", body: bytes = b"") -> dict[str, str]:
    """Headers that sign a request of the tests' terminal key (the gateway refuses unsigned
    requests to signed routes itself, so traffic that should reach an instance is signed)."""
    return signing.signature_headers(
        key_id=KEY_ID,
        secret=SECRET,
        method=method,
        path=path,
        timestamp=int(time.time()),
        nonce=secrets.token_hex(12),
        body=body,
    )


def topology(**over: Any) -> Topology:
    data: dict[str, Any] = {
        "time_scale": 60.0,
        "gateway": {"per_try_timeout_s": 5.0, "drain_timeout_s": 5.0, "hold_timeout_s": 5.0},
        # one test key sends hundreds of requests a second here: the rate limit has its own tests
        "limits": {"rate_per_key": 1_000_000.0, "burst_per_key": 1_000_000},
        "services": {
            "rates": {"stable": "1.0.0", "replicas": 2, "builds": {"1.0.0": {}}},
            "payments": {
                "stable": "1.4.0",
                "replicas": 3,
                "max_replicas": 10,
                "builds": {
                    "1.4.0": {},
                    "1.5.0": {},
                    "1.5.1-bad": {"faults": {"error_rate": 0.2}},
                    "1.5.2-slow": {"faults": {"latency_ms": 300}},
                },
            },
        },
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    return parse_topology(data)


SUCCESS_RATE = (
    'sum(rate(cryptopos_requests_total{{service="payments",rollouts_pod_template_hash="{{{{args.canary}}}}",'
    'code!="5xx"}}[{window}])) / sum(rate(cryptopos_requests_total{{service="payments",'
    'rollouts_pod_template_hash="{{{{args.canary}}}}"}}[{window}]))'
)
P99 = (
    "histogram_quantile(0.99, sum by (le) (rate(cryptopos_request_duration_seconds_bucket{{"
    'service="payments",rollouts_pod_template_hash="{{{{args.canary}}}}"}}[{window}])))'
)
NO_DATA_PASSES = "len(result) == 0 || isNaN(result[0]) || "


def plan(
    steps: str = "[{setWeight: 20}, {pause: {duration: 40s}}, {setWeight: 50}, {pause: {duration: 40s}}, "
    "{setWeight: 80}, {pause: {duration: 40s}}]",
    *,
    interval: str = "20s",
    window: str = "1m",
    failure_limit: int = 2,
    condition: str = NO_DATA_PASSES + "result[0] >= 0.95",
    query: str = SUCCESS_RATE,
    failure_condition: str = "",
    extra: str = "",
) -> RolloutPlan:
    """A plan whose analysis runs ``query`` (the canary's success rate by default) with Argo's
    prometheus provider, as deploy/k8s does; ``extra`` adds lines to the metric."""
    failure = f'\n      failureCondition: "{failure_condition}"' if failure_condition else ""
    more = "".join(f"\n      {line}" for line in extra.splitlines() if line.strip())
    text = f"""
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: payments}}
spec:
  replicas: 3
  strategy:
    canary:
      abortScaleDownDelaySeconds: 30
      scaleDownDelaySeconds: 30
      analysis:
        templates: [{{templateName: health}}]
        args: [{{name: canary, valueFrom: {{podTemplateHashValue: Latest}}}}]
      steps: {steps}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: health}}
spec:
  args: [{{name: canary}}]
  metrics:
    - name: health
      interval: {interval}
      successCondition: "{condition}"{failure}
      failureLimit: {failure_limit}{more}
      provider:
        prometheus:
          query: '{query.format(window=window)}'
"""
    return parse_plan(text, source="test-plan")


def echo_factory(*, slow_s: float = 0.3) -> Any:
    """A tiny service app per instance: echo, slow, and a given status code."""

    def make(service: str, build: str, config: BuildConfig) -> Any:
        count = {"n": 0}

        async def echo(request: Request) -> JSONResponse:
            count["n"] += 1
            return JSONResponse({"service": service, "build": build, "n": count["n"]})

        async def slow(request: Request) -> JSONResponse:
            await asyncio.sleep(float(request.query_params.get("s", slow_s)))
            return JSONResponse({"build": build, "slow": True})

        async def status(request: Request) -> JSONResponse:
            code = int(request.path_params["code"])
            return JSONResponse({"build": build, "code": code}, status_code=code)

        async def healthz(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        routes = [Route("/healthz", healthz)]
        for svc in ("rates", "payments"):
            routes += [
                Route(f"/{svc}/v1/cut", CutApp(), methods=["POST"]),
                Route(f"/{svc}/v1/echo", echo, methods=["GET", "POST"]),
                Route(f"/{svc}/v1/slow", slow, methods=["GET", "POST"]),
                Route(f"/{svc}/v1/status/{{code:int}}", status, methods=["GET", "POST"]),
            ]
        return Starlette(routes=routes)

    return make


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=InProcessTransport(app), base_url="http://gateway.test")


class _Witness(httpx.AsyncBaseTransport):
    """Passes requests on and writes down every 5xx answer or transport error the client saw,
    so a failed payment's cause (which the client may have retried past) is on record."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seen: list[str]) -> None:
        self.inner, self.seen = inner, seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            resp = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            self.seen.append(f"{request.method} {request.url.path}: {type(exc).__name__}")
            raise
        if resp.status_code >= 500:
            await resp.aread()
            self.seen.append(f"{request.method} {request.url.path}: {resp.status_code} {resp.text[:200]}")
        return resp

    async def aclose(self) -> None:
        await self.inner.aclose()


class PaymentLoad:
    """Payments from the terminal's own client at a steady rate while a test ticks the cluster."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        from terminal.client import BackendClient

        self.errors: list[str] = []  # every 5xx or transport error the client met, retried or not
        self.client = BackendClient(
            base_url="http://gateway.test",
            key_id=KEY_ID,
            secret=SECRET,
            transport=_Witness(transport, self.errors),
        )
        self.ok: list[tuple[str, str, str]] = []  # (reference, idempotency key, payment id)
        self.failed: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._next = 0

    async def one(self, i: int) -> None:
        from terminal.client import BackendError
        from terminal.domain.money import Money, asset

        reference, key = f"ref-{i}", f"idem-{i}"
        try:
            q = await self.client.quote(Money.parse("12.50", "EUR"), asset("BTC"))
            p = await self.client.create_payment(
                quote=q, reference=reference, payload="tap", idempotency_key=key
            )
        except BackendError as exc:
            self.failed.append(f"{reference}: {exc}")
            return
        if p.status != "approved":
            self.failed.append(f"{reference}: {p.status}")
            return
        self.ok.append((reference, key, p.payment_id))

    async def run(
        self,
        *,
        rate: float,
        until: Any,
        max_payments: int,
        every: int = 0,
        on_every: Any = None,
        tills: int = 16,
    ) -> None:
        """Start one payment every 1/rate s until ``until()`` is true or the cap is reached;
        await ``on_every()`` after every ``every`` payments started.

        The load is a fleet of ``tills`` tills, each doing one sale at a time, as real tills
        do: at most ``tills`` payments are in flight, and after a stall (a busy machine, a
        slow fsync) the pace resumes from now rather than firing the missed payments at
        once. An open-loop load that catches up turns one pause of the test process into
        a burst no fleet sends, overloads the one process that runs the whole deployment
        here, and reads as failed payments that have nothing to do with the rollout."""
        loop = asyncio.get_running_loop()
        free = asyncio.Semaphore(tills)

        async def sale(i: int) -> None:
            try:
                await self.one(i)
            finally:
                free.release()

        next_at = loop.time()
        n = 0
        while n < max_payments and not until():
            await free.acquire()
            self._tasks.append(asyncio.ensure_future(sale(self._next)))
            self._next += 1
            n += 1
            if every and n % every == 0:
                await on_every()
            next_at = max(next_at, loop.time()) + 1 / rate
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        await asyncio.gather(*self._tasks)

    async def aclose(self) -> None:
        await self.client.aclose()


def ledger_problems(store: Any, ok: list[tuple[str, str, str]]) -> list[str]:
    """Exactly one charge per idempotency key and per reference, and every approved one is there."""
    import json

    problems = []
    by_ref: dict[str, list[str]] = {}
    for row in store.fetch_all("SELECT reference, payment_id FROM payments"):
        by_ref.setdefault(row["reference"], []).append(row["payment_id"])
    for ref, ids in by_ref.items():
        if len(ids) != 1:
            problems.append(f"{ref} charged {len(ids)} times")
    keys: dict[str, str] = {}
    for row in store.fetch_all("SELECT key, state, body FROM idempotency"):
        if row["state"] != "done":
            problems.append(f"{row['key']} still in flight")
            continue
        keys[row["key"]] = json.loads(row["body"]).get("payment_id")
    for ref, key, pid in ok:
        if keys.get(key) != pid:
            problems.append(f"{key}: ledger has {keys.get(key)}, client saw {pid}")
        if by_ref.get(ref) != [pid]:
            problems.append(f"{ref}: ledger has {by_ref.get(ref)}, client saw {pid}")
    total = sum(len(v) for v in by_ref.values())
    if total != len(ok):
        problems.append(f"{total} charges for {len(ok)} approved payments")
    return problems


class CutApp:
    """Starts an answer and never finishes it (a lost answer after the work was done)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": [(b"content-length", b"64")]})

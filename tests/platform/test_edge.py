"""What the edge refuses before a request costs anything (backend_stub.edge), and the gateway's
use of it in-process: malformed targets (400), the raw path forwarded as sent, signatures
checked at the gateway, the per-key rate limit (429)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from backend_stub.app import create_service_app
from backend_stub.cluster import ManualClock
from backend_stub.deployment import Deployment
from backend_stub.edge import EdgeRefusal, RateLimiter, is_public, precheck, segments, split_target
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from backend_stub.transport import InProcessTransport
from terminal.domain import signing
from tests.platform.helpers import KEY_ID, SECRET, signed, topology


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"/payments/v2/payments?reference=it%27s", b"/payments/v2/payments", b"reference=it%27s"),
        (b"/payments/v2/payments/..%2f..%2frates", b"/payments/v2/payments/..%2f..%2frates", b""),
        (b"/a/../b?x=1&y=%20", b"/a/../b", b"x=1&y=%20"),  # dot segments are not resolved here
        (b"/payments/v2/payments?q=a|b{c}", b"/payments/v2/payments", b"q=a|b{c}"),
    ],
)
def test_a_target_is_split_and_never_decoded_or_normalised(target: bytes, path: bytes, query: bytes) -> None:
    assert split_target(target) == (path, query)


@pytest.mark.parametrize(
    ("target", "slug"),
    [
        (b"/payments/v2/payments/%00", "malformed-path"),
        (b"/payments/v2/payments/%0a", "malformed-path"),
        (b"/payments/v2/payments/%7F", "malformed-path"),
        (b"/payments/v2/payments/%zz", "malformed-path"),
        (b"/payments/v2/payments/%4", "malformed-path"),
        (b"/payments/v2/payments/\xc3\xa9", "malformed-path"),
        (b"/payments/v2/payments/a#frag", "malformed-path"),
        (b"payments/v2/payments", "malformed-path"),
        (b"*", "malformed-path"),
        (b"/payments/v2/payments?reference=%00", "malformed-query"),
        (b"/payments/v2/payments?reference=%g0", "malformed-query"),
    ],
)
def test_a_malformed_target_is_a_400_that_says_what_is_wrong(target: bytes, slug: str) -> None:
    with pytest.raises(EdgeRefusal) as info:
        split_target(target)
    assert info.value.status == 400 and info.value.slug == slug and info.value.detail


def test_segments_are_decoded_one_by_one() -> None:
    assert segments(b"/payments/v2/payments/a%2Fb") == ["payments", "v2", "payments", "a/b"]
    assert segments(b"/payments/%762/x") == ["payments", "v2", "x"]
    assert segments(b"/") == [""]


def test_the_public_routes_are_exactly_the_apps_routes_without_a_signature(tmp_path: Any) -> None:
    """is_public() must agree with the apps: a route it calls public that needs a signature
    would only cost a 401 later, but a signed route it missed would be let through unsigned."""
    store = Store(tmp_path / "l.sqlite3")
    try:
        for service in ("rates", "payments"):
            app = create_service_app(service, store=store, settings=ServiceSettings())  # type: ignore[arg-type]
            for route, prefix in _routes(app.router.routes, ""):
                parts = segments((prefix + route.path).replace("{", "X").replace("}", "X").encode())
                needs_signature = _depends_on_auth(route)
                assert is_public(parts) is not needs_signature, (prefix + route.path, needs_signature)
    finally:
        store.close()


def _routes(routes: list[Any], prefix: str) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    for r in routes:
        if isinstance(r, Mount):
            inner = r.app
            while not hasattr(inner, "router"):
                inner = inner.app  # the version middleware around each version's app
            out += _routes(inner.router.routes, prefix + r.path)
        elif hasattr(r, "path"):
            out.append((r, prefix))
    return out


def _depends_on_auth(route: Any) -> bool:
    if not isinstance(route, APIRoute):
        return False  # openapi.json, docs: starlette routes of FastAPI's own
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        call = getattr(dep, "call", None)
        owner = getattr(call, "__self__", call)
        if type(owner).__name__ == "Authenticator":
            return True
        stack += dep.dependencies
    return False


def _headers(over: dict[bytes, bytes] | None = None) -> list[tuple[bytes, bytes]]:
    ts, nonce = int(time.time()), "n-" + secrets.token_hex(4)
    sig = signing.sign(SECRET, "POST", "/rates/v2/quotes", ts, nonce, b"{}")
    h = {
        b"x-cp-key-id": KEY_ID.encode(),
        b"x-cp-timestamp": str(ts).encode(),
        b"x-cp-nonce": nonce.encode(),
        b"x-cp-signature": sig.encode(),
    }
    h.update(over or {})
    return [(k, v) for k, v in h.items() if v]


@pytest.mark.parametrize(
    ("over", "slug"),
    [
        ({b"x-cp-signature": b""}, "unauthenticated"),
        ({b"x-cp-key-id": b"someone-else"}, "unknown-key"),
        ({b"x-cp-timestamp": b"soon"}, "bad-timestamp"),
        ({b"x-cp-timestamp": b"1000"}, "stale-request"),
        ({b"x-cp-nonce": b"n" * 129}, "bad-signature"),
        ({b"x-cp-signature": b"zz" * 32}, "bad-signature"),
        ({b"x-cp-signature": b"00" * 32}, "bad-signature"),
    ],
)
def test_precheck_refuses_as_the_instance_would(over: dict[bytes, bytes], slug: str) -> None:
    with pytest.raises(EdgeRefusal) as info:
        precheck(
            method="POST",
            target=b"/rates/v2/quotes",
            headers=_headers(over),
            body=b"{}",
            now=time.time(),
            keys={KEY_ID: (SECRET,)},
        )
    assert info.value.status == 401 and info.value.slug == slug
    assert (b"www-authenticate", b'CP-HMAC-SHA256 realm="cryptopos"') in info.value.headers


def test_precheck_returns_the_verified_key_and_checks_the_body() -> None:
    args: dict[str, Any] = {"method": "POST", "target": b"/rates/v2/quotes", "now": time.time()}
    assert precheck(headers=_headers(), body=b"{}", keys={KEY_ID: (SECRET,)}, **args) == KEY_ID
    with pytest.raises(EdgeRefusal, match="bad-signature"):
        precheck(headers=_headers(), body=b"{ }", keys={KEY_ID: (SECRET,)}, **args)
    # without the keys the shape is all it can check
    assert precheck(headers=_headers(), body=b"{ }", keys=None, **args) == KEY_ID


def test_a_token_bucket_per_key_refills_at_its_rate() -> None:
    lim = RateLimiter(rate=10.0, burst=5)
    assert [lim.take("a", 0.0) for _ in range(5)] == [0.0] * 5
    wait = lim.take("a", 0.0)
    assert wait == pytest.approx(0.1)  # one token takes 1/rate
    assert lim.take("b", 0.0) == 0.0  # another key has its own bucket
    assert lim.take("a", 0.05) > 0.0
    assert lim.take("a", 0.2) == 0.0


def test_the_bucket_table_stays_bounded_under_a_flood_of_keys() -> None:
    lim = RateLimiter(rate=1.0, burst=2, max_keys=1_000)
    for i in range(100_000):
        lim.take(f"k{i}", i * 0.0001)
    assert len(lim) <= 1_000
    # a key that is busy now keeps its (empty) bucket through the shrink
    lim2 = RateLimiter(rate=1.0, burst=1, max_keys=10)
    lim2.take("busy", 100.0)
    for i in range(50):
        lim2.take(f"idle{i}", 100.0 + i * 0.0001)
        lim2.take("busy", 100.0 + i * 0.0001)
    assert lim2.take("busy", 100.01) > 0.0


# -- the gateway, in-process ----------------------------------------------------------------


async def _deployment(store: Store, **limits: Any) -> Deployment:
    topo = topology(limits={"rate_per_key": 5.0, "burst_per_key": 5, **limits})
    d = Deployment.in_process(
        topo,
        store=store,
        settings=ServiceSettings(keys={KEY_ID: SECRET, "t_other": b"o" * 32}),
        clock=ManualClock(),
    )
    await d.start()
    return d


async def test_malformed_paths_are_400_at_the_gateway(ledger: Store) -> None:
    d = await _deployment(ledger)
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        for path in (
            "/payments/v2/payments/%00",
            "/payments/v2/payments/%zz",
            "/payments/v2/payments?reference=%00",
        ):
            r = await c.get(path, headers=signed(path))
            assert r.status_code == 400, path
            assert r.json()["type"].split("/")[-1] in ("malformed-path", "malformed-query")
        assert d.gateway.refused["malformed"] == 3
    await d.aclose()


async def test_the_signed_path_is_forwarded_as_sent(ledger: Store) -> None:
    """The instance verifies the signature over the target it receives: a gateway that decoded
    %27 or resolved ..%2f would turn these into 401 bad-signature."""
    d = await _deployment(ledger)
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        q = "/payments/v2/payments?reference=it%27s"
        r = await c.get(q, headers=signed(q))
        assert r.status_code == 200 and r.json()["items"] == []
        dots = "/payments/v2/payments?reference=..%2f..%2fx"
        r = await c.get(dots, headers=signed(dots))
        assert r.status_code == 200 and r.json()["items"] == []
        # a proxy that resolved the dots would have fetched the rates keys (public, 200)
        up = "/payments/v2/payments/..%2f..%2f..%2frates%2fv2%2fkeys"
        r = await c.get(up, headers=signed(up))
        assert r.status_code == 404 and r.json()["instance"] == "/payments/v2/payments/../../../rates/v2/keys"
    await d.aclose()


async def test_unsigned_junk_is_refused_at_the_gateway_and_reaches_no_instance(ledger: Store) -> None:
    d = await _deployment(ledger)
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        r = await c.post("/payments/v2/payments", content=b"junk" * 100)
        assert r.status_code == 401 and r.json()["type"].endswith("/unauthenticated")
        assert "x-cp-instance" not in r.headers and r.headers["www-authenticate"].startswith("CP-HMAC")
        forged = signed("/payments/v2/payments", method="POST", body=b"{}")
        r = await c.post("/payments/v2/payments", content=b"{ }", headers=forged)
        assert r.status_code == 401 and r.json()["type"].endswith("/bad-signature")
        public = await c.get("/rates/v2/keys")  # no signature needed
        assert public.status_code == 200
    assert d.gateway.refused["unauthenticated"] == 2
    assert sum(i.served for p in d.cluster.pools.values() for i in p.instances) == 1  # only the keys
    await d.aclose()


async def test_a_key_over_its_rate_gets_429_with_retry_after_and_others_do_not(ledger: Store) -> None:
    d = await _deployment(ledger)
    d.gateway.rate_clock = lambda: 0.0  # the buckets do not refill while the test runs, however slowly
    path = "/payments/v2/payments?reference=r1"
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        codes = [(await c.get(path, headers=signed(path))).status_code for _ in range(8)]
        assert codes == [200] * 5 + [429] * 3
        r = await c.get(path, headers=signed(path))
        assert r.status_code == 429 and r.json()["type"].endswith("/rate-limited")
        assert int(r.headers["retry-after"]) >= 1
        other = signing.signature_headers(
            key_id="t_other",
            secret=b"o" * 32,
            method="GET",
            path=path,
            timestamp=int(time.time()),
            nonce=secrets.token_hex(8),
            body=b"",
        )
        assert (await c.get(path, headers=other)).status_code == 200
    refused = d.gateway.refused["rate_limited"]
    assert refused == codes.count(429) + 1
    status = d.status()
    assert status["limits"]["rate_per_key"] == 5.0
    assert status["gateway_stats"]["refused"]["rate_limited"] == refused
    await d.aclose()


async def test_a_body_over_the_cap_is_413_in_process(ledger: Store) -> None:
    d = await _deployment(ledger, max_body_bytes=2048)
    body = json.dumps({"pad": "x" * 4096}).encode()
    headers = signed("/rates/v2/quotes", method="POST", body=body)
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        r = await c.post("/rates/v2/quotes", content=body, headers=headers)
    assert r.status_code == 413 and r.json()["type"].endswith("/body-too-large")
    await d.aclose()


def shedding_factory(shedder: str) -> Any:
    """Instances of a tiny app; the one whose id ends with ``shedder`` sheds everything."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    made: dict[str, int] = {}

    def make(service: str, build: str, config: Any) -> Any:
        made[service] = me = made.get(service, 0) + 1  # the payments instances are 1, 2, 3

        async def handle(request: Request) -> JSONResponse:
            if shedder in (str(me), "all"):
                return JSONResponse(
                    {"type": "https://cryptopos.dev/problems/overloaded"},
                    status_code=503,
                    headers={"retry-after": "1", "x-cp-shed": "1"},
                )
            return JSONResponse({"served_by": me})

        async def healthz(request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        return Starlette(
            routes=[Route("/healthz", healthz), Route("/payments/v1/write", handle, methods=["POST"])]
        )

    return make


async def test_a_shed_request_is_retried_elsewhere_even_unkeyed_and_ejects_nobody() -> None:
    """Shed means nothing was done: safe to send again, even a POST without Idempotency-Key;
    and a busy instance is not a broken one."""
    d = Deployment.in_process(
        topology(gateway={"eject_after": 2}), clock=ManualClock(), app_factory=shedding_factory("1")
    )
    await d.start()
    pool = d.cluster.pool("payments")
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        rs = [await c.post("/payments/v1/write", content=b"{}") for _ in range(20)]
    assert [r.status_code for r in rs] == [200] * 20
    assert all(r.json()["served_by"] != 1 for r in rs)
    assert d.gateway.refused["shed"] >= 1 and d.gateway.retries == d.gateway.refused["shed"]
    assert all(i.ejected_until == 0.0 for i in pool.instances)
    await d.aclose()


async def test_when_every_instance_sheds_the_terminal_hears_it_was_shed() -> None:
    d = Deployment.in_process(topology(), clock=ManualClock(), app_factory=shedding_factory("all"))
    await d.start()
    async with httpx.AsyncClient(transport=InProcessTransport(d.gateway), base_url="http://g") as c:
        r = await c.post("/payments/v1/write", content=b"{}")
    assert r.status_code == 503 and r.headers["x-cp-shed"] == "1" and r.headers["retry-after"] == "1"
    assert r.headers["x-cp-attempts"] == "3"  # tried on every instance (max_retries 2)
    await d.aclose()

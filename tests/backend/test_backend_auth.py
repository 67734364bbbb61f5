"""Terminal authentication: HMAC over method, path, timestamp, nonce and body; ±300 s; nonces once."""

from __future__ import annotations

import pytest

from backend_stub.app import create_service_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store

from .conftest import OTHER_KEY_ID, OTHER_SECRET, Api, FakeClock, client_for, problem_type

QUOTE = {"fiat_minor": 1250, "fiat_currency": "EUR", "asset": "BTC"}


async def test_signed_request_is_accepted(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE)
    assert r.status_code == 201


async def test_unsigned_request_gets_401_problem_with_challenge(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE, sign=False)
    assert r.status_code == 401
    assert problem_type(r) == "unauthenticated"
    assert r.headers["www-authenticate"].startswith("CP-HMAC-SHA256")


async def test_unknown_key(api: Api) -> None:
    api.key_id = "who-is-this"
    r = await api.post("/rates/v2/quotes", QUOTE)
    assert (r.status_code, problem_type(r)) == (401, "unknown-key")


async def test_tampered_body_fails_signature(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE, headers={"X-Cp-Signature": "0" * 64})
    assert (r.status_code, problem_type(r)) == (401, "bad-signature")


async def test_signature_binds_the_query(api: Api) -> None:
    good = await api.get("/payments/v2/payments?reference=a")
    assert good.status_code == 200
    # Sign one query, send another: the signature must not carry over.
    from terminal.domain import signing

    headers = signing.signature_headers(
        key_id=api.key_id,
        secret=api.secret,
        method="GET",
        path="/payments/v2/payments?reference=a",
        timestamp=int(api.clock()),
        nonce="q-1",
        body=b"",
    )
    r = await api.http.get("/payments/v2/payments?reference=b", headers=headers)
    assert (r.status_code, problem_type(r)) == (401, "bad-signature")


async def test_non_ascii_signature_is_a_clean_401(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE, headers={"X-Cp-Signature": ("é" * 64).encode("latin-1")})  # type: ignore[dict-item]
    assert (r.status_code, problem_type(r)) == (401, "bad-signature")


@pytest.mark.parametrize(("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False)])
async def test_timestamp_window_is_300_seconds(api: Api, clock: FakeClock, offset: int, ok: bool) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE, timestamp=int(clock()) + offset)
    if ok:
        assert r.status_code == 201
    else:
        assert (r.status_code, problem_type(r)) == (401, "stale-request")


async def test_non_integer_timestamp(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", QUOTE, headers={"X-Cp-Timestamp": "soon"})
    assert (r.status_code, problem_type(r)) == (401, "bad-timestamp")


async def test_replayed_nonce_is_rejected(api: Api) -> None:
    assert (await api.post("/rates/v2/quotes", QUOTE, nonce="same")).status_code == 201
    r = await api.post("/rates/v2/quotes", QUOTE, nonce="same")
    assert (r.status_code, problem_type(r)) == (401, "replayed-request")


async def test_nonces_are_per_terminal_key(api: Api) -> None:
    assert (await api.post("/rates/v2/quotes", QUOTE, nonce="shared")).status_code == 201
    api.key_id, api.secret = OTHER_KEY_ID, OTHER_SECRET
    assert (await api.post("/rates/v2/quotes", QUOTE, nonce="shared")).status_code == 201


async def test_replay_to_another_instance_is_caught(
    store: Store, settings: ServiceSettings, clock: FakeClock
) -> None:
    """The nonce cache is the shared store: a replay sent to a second instance fails too."""
    a = create_service_app("rates", store=store, settings=settings, build="1.4.0")
    b = create_service_app("rates", store=store, settings=settings, build="1.5.0")
    async with client_for(a) as ha, client_for(b) as hb:
        first = await Api(ha, clock).post("/rates/v2/quotes", QUOTE, nonce="n-once")
        again = await Api(hb, clock).post("/rates/v2/quotes", QUOTE, nonce="n-once")
    assert first.status_code == 201
    assert (again.status_code, problem_type(again)) == (401, "replayed-request")


async def test_discovery_and_health_need_no_signature(api: Api) -> None:
    for path in ("/discovery", "/healthz", "/readyz", "/rates/v2/keys"):
        r = await api.get(path, sign=False)
        assert r.status_code == 200, (path, r.text)


async def test_a_nonce_is_forgotten_only_once_its_request_would_be_stale(api: Api, clock: FakeClock) -> None:
    sent_at = int(clock())
    assert (await api.post("/rates/v2/quotes", QUOTE, nonce="old", timestamp=sent_at)).status_code == 201
    clock.advance(250)
    again = await api.post("/rates/v2/quotes", QUOTE, nonce="old", timestamp=sent_at)
    assert (again.status_code, problem_type(again)) == (401, "replayed-request")
    clock.advance(100)  # the original request is now outside the window: the replay is stale anyway
    stale = await api.post("/rates/v2/quotes", QUOTE, nonce="old", timestamp=sent_at)
    assert (stale.status_code, problem_type(stale)) == (401, "stale-request")
    fresh = await api.post("/rates/v2/quotes", QUOTE, nonce="old")  # a new request may reuse it later
    assert fresh.status_code == 201

"""Terminal authentication: HMAC over method, path, timestamp, nonce and body; ±300 s; nonces once."""

from __future__ import annotations

from pathlib import Path

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


# -- retransmissions: the same signed request again ------------------------------------

V1_PAYMENT = "/payments/v1/payments"


async def v1_body(api: Api, reference: str) -> dict[str, str]:
    q = (
        await api.post("/rates/v1/quotes", {"fiat_amount": "12.50", "fiat_currency": "EUR", "asset": "BTC"})
    ).json()
    return {
        "quote_id": q["quote_id"],
        "reference": reference,
        "asset": "BTC",
        "amount": q["crypto_amount"],
        "payload": "x",
    }


async def test_identical_retransmission_of_a_keyed_write_is_replayed_not_refused(
    api: Api, store: Store, clock: FakeClock
) -> None:
    body = await v1_body(api, "rt-1")
    sent = {"nonce": "rt-nonce", "timestamp": int(clock()), "headers": {"Idempotency-Key": "rt-key"}}
    first = await api.post(V1_PAYMENT, body, **sent)
    clock.advance(5)  # a resend a little later, still inside the window
    again = await api.post(V1_PAYMENT, body, **sent)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert store.count("payments") == 1


async def test_retransmission_of_a_write_without_idempotency_key_is_refused(api: Api, store: Store) -> None:
    body = await v1_body(api, "rt-2")
    sent = {"nonce": "rt-plain", "timestamp": int(api.clock())}
    assert (await api.post(V1_PAYMENT, body, **sent)).status_code == 201
    again = await api.post(V1_PAYMENT, body, **sent)
    assert (again.status_code, problem_type(again)) == (401, "replayed-request")
    assert store.count("payments") == 1


async def test_a_key_on_a_route_without_idempotency_does_not_open_the_door(api: Api, store: Store) -> None:
    """Quotes keep no idempotency record: a resent quote request would price twice."""
    sent = {"nonce": "rt-quote", "timestamp": int(api.clock()), "headers": {"Idempotency-Key": "q-key"}}
    assert (await api.post("/rates/v2/quotes", QUOTE, **sent)).status_code == 201
    again = await api.post("/rates/v2/quotes", QUOTE, **sent)
    assert (again.status_code, problem_type(again)) == (401, "replayed-request")
    assert store.count("quotes") == 1


async def test_same_nonce_with_another_body_is_refused_even_with_the_same_key(api: Api, store: Store) -> None:
    body = await v1_body(api, "rt-3")
    sent = {"nonce": "rt-forged", "timestamp": int(api.clock()), "headers": {"Idempotency-Key": "rt-key-3"}}
    assert (await api.post(V1_PAYMENT, body, **sent)).status_code == 201
    other = await api.post(V1_PAYMENT, {**body, "reference": "rt-3b"}, **sent)
    assert (other.status_code, problem_type(other)) == (401, "replayed-request")
    # the same body under another timestamp is another signature too
    later = await api.post(V1_PAYMENT, body, **{**sent, "timestamp": int(api.clock()) + 1})
    assert (later.status_code, problem_type(later)) == (401, "replayed-request")
    assert store.count("payments") == 1


async def test_identical_retransmission_of_a_read_is_answered(api: Api) -> None:
    sent = {"nonce": "rt-get", "timestamp": int(api.clock())}
    first = await api.get("/payments/v1/payments?reference=nothing", **sent)
    again = await api.get("/payments/v1/payments?reference=nothing", **sent)
    assert (first.status_code, again.status_code) == (200, 200)
    other = await api.get("/payments/v1/payments?reference=other", **sent)
    assert (other.status_code, problem_type(other)) == (401, "replayed-request")


async def test_retransmission_to_another_instance_is_replayed_there(
    store: Store, settings: ServiceSettings, clock: FakeClock
) -> None:
    """The nonce digests are in the shared store: another build's instance knows the resend."""
    a = create_service_app("payments", store=store, settings=settings, build="1.4.0")
    b = create_service_app("payments", store=store, settings=settings, build="1.5.0")
    rates = create_service_app("rates", store=store, settings=settings, build="1.4.0")
    async with client_for(a) as ha, client_for(b) as hb, client_for(rates) as hr:
        body = await v1_body(Api(hr, clock), "rt-4")
        sent = {"nonce": "rt-x", "timestamp": int(clock()), "headers": {"Idempotency-Key": "rt-key-4"}}
        first = await Api(ha, clock).post(V1_PAYMENT, body, **sent)
        again = await Api(hb, clock).post(V1_PAYMENT, body, **sent)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true" and again.headers["x-cp-build"] == "1.5.0"
    assert store.count("payments") == 1


def test_a_ledger_from_before_versioning_is_adopted_and_forgets_nothing_silently(tmp_path: Path) -> None:
    """A ledger made before schema versions (and before request digests) is migrated in place.
    Its terminal nonces were in the ledger; the replay cache is new beside it, so a request
    signed before the upgrade is refused as possibly seen ("forgotten"), later ones are not."""
    import sqlite3
    import time

    from backend_stub.store import schema

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE nonces (scope TEXT NOT NULL, nonce TEXT NOT NULL, seen_at REAL NOT NULL, "
            "keep_until REAL NOT NULL, PRIMARY KEY (scope, nonce))"
        )
        db.execute("INSERT INTO nonces VALUES ('terminal:t', 'n1', 0, 1e12)")
    db.close()
    store = Store(path)
    try:
        assert store.schema_version() == schema.CURRENT
        columns = {r["name"] for r in store.fetch_all("PRAGMA table_info(nonces)")}
        assert "digest" in columns
        now = time.time()
        kw = {"now": now, "keep_until": now + 301}
        assert store.remember_request("terminal:t", "n1", "d", signed_at=now - 60, **kw) == "forgotten"
        assert store.remember_request("terminal:t", "n2", "d", signed_at=now + 1, **kw) == "fresh"
        assert store.remember_request("terminal:t", "n2", "d", signed_at=now + 1, **kw) == "same"
        assert store.remember_request("terminal:t", "n2", "e", signed_at=now + 1, **kw) == "different"
    finally:
        store.close()

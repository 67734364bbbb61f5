"""Every error is an RFC 9457 problem document, with a specific type."""

from __future__ import annotations

from backend_stub.app import create_service_app
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store

from .conftest import Api, FakeClock, client_for, problem_type


async def test_validation_error_names_the_fields(api: Api) -> None:
    r = await api.post(
        "/rates/v2/quotes", {"fiat_minor": "lots", "fiat_currency": "EUR", "asset": "BTC", "x": 1}
    )
    assert (r.status_code, problem_type(r)) == (422, "validation")
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"fiat_minor", "x"}
    assert r.json()["instance"] == "/rates/v2/quotes"


async def test_malformed_json_is_a_problem(api: Api) -> None:
    r = await api.request("POST", "/rates/v2/quotes", raw=b"{not json")
    assert (r.status_code, problem_type(r)) == (422, "validation")


async def test_unknown_path_and_method(api: Api) -> None:
    r = await api.get("/payments/v9/payments")
    assert (r.status_code, problem_type(r)) == (404, "not-found")
    r = await api.request("DELETE", "/rates/v2/quotes")
    assert (r.status_code, problem_type(r)) == (405, "method-not-allowed")


async def test_quote_refusals_are_specific(api: Api) -> None:
    cases = [
        ({"fiat_minor": 100, "fiat_currency": "XXX", "asset": "BTC"}, "unsupported-currency"),
        ({"fiat_minor": 100, "fiat_currency": "BTC", "asset": "BTC"}, "unsupported-currency"),
        ({"fiat_minor": 100, "fiat_currency": "EUR", "asset": "DOGE"}, "unsupported-asset"),
        ({"fiat_minor": 100, "fiat_currency": "EUR", "asset": "EUR"}, "unsupported-asset"),
    ]
    for body, expected in cases:
        r = await api.post("/rates/v2/quotes", body)
        assert (r.status_code, problem_type(r)) == (422, expected), body
    for amount in ("0", "-1", "12.505", "abc", "1e3", "NaN", "Infinity"):
        r = await api.post(
            "/rates/v1/quotes", {"fiat_amount": amount, "fiat_currency": "EUR", "asset": "BTC"}
        )
        assert (r.status_code, problem_type(r)) == (422, "invalid-amount"), amount


async def test_a_store_failure_is_a_500_problem_not_a_crash(tmp_path, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    from .conftest import KEY_ID, SECRET

    store = Store(tmp_path / "l.sqlite3")
    app = create_service_app(
        "rates", store=store, settings=ServiceSettings(keys={KEY_ID: SECRET}, clock=clock)
    )
    store.close()
    import httpx

    from backend_stub.transport import InProcessTransport

    transport = InProcessTransport(app)
    transport._inner = httpx.ASGITransport(app=transport._guarded, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as http:
        r = await Api(http, clock).post(
            "/rates/v2/quotes", {"fiat_minor": 1, "fiat_currency": "EUR", "asset": "BTC"}
        )
        ready = await http.get("/readyz")
    assert (r.status_code, problem_type(r)) == (500, "internal")
    assert "StoreError" in r.json()["detail"]
    assert (ready.status_code, problem_type(ready)) == (503, "not-ready")


async def test_readyz_reports_draining(store: Store, settings: ServiceSettings) -> None:
    app = create_service_app("payments", store=store, settings=settings)
    async with client_for(app) as http:
        assert (await http.get("/readyz")).status_code == 200
        app.state.accepting = False
        r = await http.get("/readyz")
        assert (r.status_code, problem_type(r)) == (503, "not-ready")
        assert (await http.get("/healthz")).json() == {"status": "ok", "build": "1.4.0"}

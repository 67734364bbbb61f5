"""Versions: discovery, Deprecation/Sunset/Link on deprecated versions, 410 after sunset."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from backend_stub.app import create_app
from backend_stub.settings import ServiceSettings, VersionPolicy, default_versions
from backend_stub.store import Store

from .conftest import KEY_ID, SECRET, Api, FakeClock, client_for, problem_type

V1_QUOTE = {"fiat_amount": "12.50", "fiat_currency": "EUR", "asset": "BTC"}
V2_QUOTE = {"fiat_minor": 1250, "fiat_currency": "EUR", "asset": "BTC"}


async def test_deprecated_v1_carries_lifecycle_headers(api: Api) -> None:
    r = await api.post("/rates/v1/quotes", V1_QUOTE)
    assert r.status_code == 201
    policy = default_versions()["rates"]["v1"]
    assert policy.deprecated_at is not None and policy.sunset_at is not None
    assert r.headers["deprecation"] == f"@{int(policy.deprecated_at)}"
    assert parsedate_to_datetime(r.headers["sunset"]).timestamp() == policy.sunset_at
    assert r.headers["link"] == '</rates/v2>; rel="successor-version"'


async def test_errors_of_a_deprecated_version_carry_the_headers_too(api: Api) -> None:
    r = await api.post("/payments/v1/payments", {"nope": 1})
    assert r.status_code == 422 and "deprecation" in r.headers


async def test_v2_has_no_lifecycle_headers(api: Api) -> None:
    r = await api.post("/rates/v2/quotes", V2_QUOTE)
    assert r.status_code == 201
    assert not {"deprecation", "sunset", "link"} & set(r.headers)


async def test_discovery_lists_versions_and_status(api: Api) -> None:
    doc = (await api.get("/discovery", sign=False)).json()
    for service in ("rates", "payments"):
        versions = {v["version"]: v for v in doc["services"][service]["versions"]}
        assert versions["v1"]["status"] == "deprecated"
        assert versions["v1"]["successor"] == "v2"
        assert datetime.fromisoformat(versions["v1"]["sunset"]) == datetime(2027, 6, 30, tzinfo=UTC)
        assert versions["v2"]["status"] == "stable" and "sunset" not in versions["v2"]
    assert doc["notices"] == []


async def test_after_sunset_v1_answers_410_and_v2_still_works(api: Api, clock: FakeClock) -> None:
    sunset = default_versions()["payments"]["v1"].sunset_at
    assert sunset is not None
    clock.now = sunset + 1
    r = await api.get("/payments/v1/payments?reference=x")
    assert (r.status_code, problem_type(r)) == (410, "version-sunset")
    assert "/payments/v2" in r.json()["detail"]
    assert r.headers["link"] == '</payments/v2>; rel="successor-version"'
    assert (await api.post("/rates/v2/quotes", V2_QUOTE)).status_code == 201
    doc = (await api.get("/discovery", sign=False)).json()
    assert doc["services"]["payments"]["versions"][0]["status"] == "sunset"


async def test_a_version_not_yet_deprecated_is_stable(store: Store, clock: FakeClock) -> None:
    later = VersionPolicy(deprecated_at=clock() + 3600, sunset_at=clock() + 7200, successor="v2")
    versions = {"rates": {"v1": later, "v2": VersionPolicy()}, "payments": default_versions()["payments"]}
    settings = ServiceSettings(keys={KEY_ID: SECRET}, clock=clock, versions=versions)
    async with client_for(create_app(store=store, settings=settings)) as http:
        r = await Api(http, clock).post("/rates/v1/quotes", V1_QUOTE)
        assert r.status_code == 201 and "sunset" in r.headers  # a future Deprecation date is announced
        doc = (await http.get("/discovery")).json()
    assert doc["services"]["rates"]["versions"][0]["status"] == "stable"


async def test_each_version_has_its_own_openapi_schema(api: Api) -> None:
    paths = {}
    for service, version in [("rates", "v1"), ("rates", "v2"), ("payments", "v1"), ("payments", "v2")]:
        r = await api.get(f"/{service}/{version}/openapi.json", sign=False)
        assert r.status_code == 200
        schema = r.json()
        assert schema["info"]["title"] == f"cryptopos {service} {version} (emulated)"
        paths[(service, version)] = set(schema["paths"])
    assert "/keys" in paths[("rates", "v2")] and "/keys" not in paths[("rates", "v1")]
    assert "/payments/{payment_id}/refunds" in paths[("payments", "v2")]
    assert "/payments/{payment_id}/refunds" not in paths[("payments", "v1")]

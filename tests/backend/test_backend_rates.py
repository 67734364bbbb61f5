"""Rates: a deterministic feed, refusals instead of nonsense, signed v2 quotes."""

from __future__ import annotations

import base64
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from backend_stub.app import create_app
from backend_stub.feed import RateFeed, SourcesDivergeError, SourcesStaleError
from backend_stub.services.rates.signer import verify_quote
from backend_stub.settings import FeedSettings, ServiceSettings
from backend_stub.store import Store

from .conftest import KEY_ID, SECRET, START, Api, FakeClock, client_for, problem_type


def feed(seed: int = 7, **kw: object) -> RateFeed:
    return RateFeed(seed=seed, settings=FeedSettings(**kw))  # type: ignore[arg-type]


def test_feed_is_deterministic_under_a_seed() -> None:
    a, b, c = feed(7), feed(7), feed(8)
    for t in (START, START + 17.5, START + 3600):
        assert a.prices("BTC", "EUR", t) == b.prices("BTC", "EUR", t)
    assert [p.rate for p in a.prices("BTC", "EUR", START)] != [p.rate for p in c.prices("BTC", "EUR", START)]


def test_sources_publish_on_their_own_ticks() -> None:
    f = feed(tick_s=5.0)
    for p in f.prices("ETH", "USD", START):
        assert START - 5.0 < p.at <= START
    assert len({p.at for p in f.prices("ETH", "USD", START)}) > 1  # phase-shifted


def test_median_of_fresh_sources_within_jitter_of_reference() -> None:
    mid, sources = feed().mid("BTC", "USD", START)
    assert len(sources) == 3
    assert min(s.rate for s in sources) <= mid <= max(s.rate for s in sources)
    assert abs(mid / 97250 - 1) < 0.01


def test_one_stopped_source_still_quotes_two_do_not() -> None:
    one = feed(stopped_at={"kraken-sim": START - 100})
    _mid, used = one.mid("BTC", "EUR", START)
    assert {s.name for s in used} == {"bitstamp-sim", "coinbase-sim"}
    two = feed(stopped_at={"kraken-sim": START - 100, "bitstamp-sim": START - 100})
    with pytest.raises(SourcesStaleError, match="1 of 3 sources are fresh"):
        two.mid("BTC", "EUR", START)


def test_a_diverging_source_refuses() -> None:
    with pytest.raises(SourcesDivergeError, match="disagree"):
        feed(skew_bps={"coinbase-sim": 250}).mid("BTC", "EUR", START)
    feed(skew_bps={"coinbase-sim": 30}).mid("BTC", "EUR", START)  # within 100 bps: quotes


async def quote_with(store: Store, clock: FakeClock, feed_settings: FeedSettings, fiat_minor: int = 1250):  # type: ignore[no-untyped-def]
    settings = ServiceSettings(keys={KEY_ID: SECRET}, clock=clock, feed=feed_settings)
    async with client_for(create_app(store=store, settings=settings)) as http:
        return await Api(http, clock).post(
            "/rates/v2/quotes", {"fiat_minor": fiat_minor, "fiat_currency": "EUR", "asset": "BTC"}
        )


async def test_stale_sources_are_a_503_problem_with_retry_after(store: Store, clock: FakeClock) -> None:
    stopped = {s: clock() - 120 for s in ("kraken-sim", "bitstamp-sim", "coinbase-sim")}
    r = await quote_with(store, clock, FeedSettings(stopped_at=stopped))
    assert (r.status_code, problem_type(r)) == (503, "rate-sources-stale")
    assert r.headers["retry-after"] == "5"
    assert len(r.json()["sources"]) == 3
    assert store.count("quotes") == 0


async def test_diverging_sources_are_a_503_problem(store: Store, clock: FakeClock) -> None:
    r = await quote_with(store, clock, FeedSettings(skew_bps={"kraken-sim": -400}))
    assert (r.status_code, problem_type(r)) == (503, "rate-sources-diverge")


@pytest.mark.parametrize(("amount", "slug"), [(4008, "rate-sources-stale"), (4009, "rate-sources-diverge")])
async def test_magic_amounts_force_refusals(store: Store, clock: FakeClock, amount: int, slug: str) -> None:
    r = await quote_with(store, clock, FeedSettings(), fiat_minor=amount)
    assert (r.status_code, problem_type(r)) == (503, slug)


async def test_v2_quote_is_signed_and_verifiable(api: Api) -> None:
    q = await api.quote_v2(fiat_minor=1250, currency="EUR", asset="BTC")
    keys = (await api.get("/rates/v2/keys", sign=False)).json()["keys"]
    (key,) = [k for k in keys if k["key_id"] == q["signature"]["key_id"]]
    raw = base64.urlsafe_b64decode(key["public_key"] + "=" * (-len(key["public_key"]) % 4))
    assert verify_quote(q, raw)
    assert not verify_quote({**q, "crypto_minor": str(int(q["crypto_minor"]) - 1)}, raw)
    assert not verify_quote({**q, "rate": "1.0000"}, raw)


async def test_v2_quote_fields_and_rounding(api: Api, clock: FakeClock) -> None:
    q = await api.quote_v2(fiat_minor=1250, currency="EUR", asset="BTC")
    assert set(q) == {
        "quote_id", "fiat_minor", "fiat_currency", "asset", "crypto_minor", "rate", "spread_bps",
        "fee_minor", "sources", "issued_at", "expires_at", "signature",
    }  # fmt: skip
    # crypto = ceil(fiat / rate) in sat: the customer never pays less than the quote
    expected = math.ceil(Fraction(1250, 100) / Fraction(q["rate"]) * 10**8)
    assert int(q["crypto_minor"]) == expected
    assert q["fee_minor"] == math.ceil(1250 * 50 / 10_000)
    assert [s["name"] for s in q["sources"]] == ["kraken-sim", "bitstamp-sim", "coinbase-sim"]
    mids = sorted(Fraction(s["rate"]) for s in q["sources"])
    assert Fraction(q["rate"]) < mids[1]  # the spread is taken off the median


async def test_v1_and_v2_agree_on_the_price(api: Api) -> None:
    v1 = (
        await api.post("/rates/v1/quotes", {"fiat_amount": "12.50", "fiat_currency": "EUR", "asset": "BTC"})
    ).json()
    v2 = await api.quote_v2(fiat_minor=1250)
    assert v1["rate"] == v2["rate"]
    assert v1["crypto_amount"] == f"{int(v2['crypto_minor']) / 10**8:.8f}"


@hsettings(max_examples=60, deadline=None)
@given(
    fiat_minor=st.integers(min_value=1, max_value=10**9),
    fiat=st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP"]),
    asset=st.sampled_from(["BTC", "BTC-LN", "ETH", "USDC", "SOL"]),
    offset=st.floats(min_value=0, max_value=86_400),
)
def test_quotes_never_undercharge(fiat_minor: int, fiat: str, asset: str, offset: float) -> None:
    """Property: the crypto amount is positive and worth at least the fiat amount at the quoted rate."""
    from backend_stub.services.common import Context
    from backend_stub.services.rates import core
    from terminal.domain.money import ASSETS, Money

    ctx = Context(None, ServiceSettings(clock=lambda: START + offset, test_mode=False), feed(), None, "t")  # type: ignore[arg-type]
    q = core.price(ctx, Money(fiat_minor, ASSETS[fiat]), asset)
    worth = Fraction(q.crypto.minor, q.crypto.asset.scale) * Fraction(q.rate)
    assert q.crypto.minor > 0
    assert worth >= Fraction(fiat_minor, ASSETS[fiat].scale)
    assert worth - Fraction(fiat_minor, ASSETS[fiat].scale) <= Fraction(q.rate) / q.crypto.asset.scale


def test_settings_overrides_from_a_config_mapping() -> None:
    base = ServiceSettings(keys={KEY_ID: SECRET})
    new = base.updated({"spread_bps": 250, "feed": {"skew_bps": {"kraken-sim": 500}}})
    assert (new.spread_bps, new.keys, new.feed.skew_bps, new.feed.tick_s) == (
        250,
        base.keys,
        {"kraken-sim": 500},
        base.feed.tick_s,
    )
    with pytest.raises(ValueError, match="unknown service settings \\['sprad_bps'\\]"):
        base.updated({"sprad_bps": 1})
    with pytest.raises(ValueError, match="unknown feed settings"):
        base.updated({"feed": {"ticks": 1}})

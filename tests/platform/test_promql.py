"""The emulator's PromQL subset against Prometheus' own arithmetic (rate extrapolation, counter
resets, histogram_quantile interpolation, empty results and NaN)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import pytest

from backend_stub.promql import Labels, QueryError, Sample, metric_names, parse, query


class Store:
    def __init__(self) -> None:
        self.data: dict[str, dict[Labels, list[Sample]]] = {}

    def add(self, name: str, labels: dict[str, str], samples: list[Sample]) -> None:
        key = tuple(sorted({**labels, "__name__": name}.items()))
        self.data.setdefault(name, {})[key] = samples

    def series(self, name: str) -> Iterator[tuple[Labels, Sequence[Sample]]]:
        yield from self.data.get(name, {}).items()


def scrapes(values: list[float], *, every: float = 15.0, start: float = 0.0) -> list[Sample]:
    return [(start + i * every, v) for i, v in enumerate(values)]


def test_rate_of_a_steady_counter_and_its_extrapolation() -> None:
    s = Store()
    # 10 requests per second, scraped every 15 s, the counter started long before
    s.add("req_total", {"pod": "a"}, scrapes([1000 + 150 * i for i in range(9)]))
    (v,) = query("rate(req_total[1m])", s, now=120.0)  # type: ignore[misc]
    assert v[1] == pytest.approx(10.0)
    (inc,) = query("increase(req_total[1m])", s, now=120.0)  # type: ignore[misc]
    # samples at 75..120 cover 45 s of the 60: extrapolated to the whole window, as Prometheus does
    assert inc[1] == pytest.approx(600.0)


def test_counter_reset_is_added_back_and_extrapolation_stops_at_zero() -> None:
    s = Store()
    s.add("req_total", {"pod": "a"}, scrapes([100, 250, 30, 180]))  # restarted between 15 s and 30 s
    (v,) = query("increase(req_total[1m])", s, now=45.0)  # type: ignore[misc]
    # raw increase 80 + 250 (the reset) = 330 over the 45 s of samples, extrapolated towards the
    # window's start only as far as the counter's zero: 45 * 100/330 s, i.e. + 100
    assert v[1] == pytest.approx(430.0)
    s2 = Store()
    s2.add("new_total", {"pod": "b"}, [(50.0, 0.0), (65.0, 30.0)])  # a new pod: starts at 0
    (w,) = query("increase(new_total[1m])", s2, now=65.0)  # type: ignore[misc]
    assert w[1] == pytest.approx(30.0)  # not extrapolated before the counter's zero


def test_a_window_shorter_than_two_scrapes_has_no_result() -> None:
    s = Store()
    s.add("req_total", {"pod": "a"}, scrapes([0, 150, 300]))
    assert query("rate(req_total[10s])", s, now=30.0) == []  # one sample in (20, 30]
    assert query("sum(rate(req_total[10s]))", s, now=30.0) == []  # sum of nothing is nothing
    assert len(query("rate(req_total[30s])", s, now=30.0)) == 1  # type: ignore[arg-type]


def test_success_ratio_sum_by_matchers_and_zero_over_zero_is_nan() -> None:
    s = Store()
    for pod, build in (("a", "1.4.0"), ("b", "1.5.0")):
        s.add("req_total", {"pod": pod, "hash": build, "code": "2xx"}, scrapes([0, 80, 160]))
        s.add("req_total", {"pod": pod, "hash": build, "code": "5xx"}, scrapes([0, 20, 40]))
    s.add("req_total", {"pod": "c", "hash": "1.6.0", "code": "2xx"}, scrapes([0, 0, 0]))
    s.add("req_total", {"pod": "c", "hash": "1.6.0", "code": "5xx"}, scrapes([0, 0, 0]))
    ratio = 'sum(rate(req_total{{hash="{h}",code!="5xx"}}[30s])) / sum(rate(req_total{{hash="{h}"}}[30s]))'
    assert [v for _, v in query(ratio.format(h="1.5.0"), s, now=30.0)] == [pytest.approx(0.8)]  # type: ignore[union-attr]
    (idle,) = query(ratio.format(h="1.6.0"), s, now=30.0)  # type: ignore[misc]
    assert math.isnan(idle[1])  # series without traffic: 0/0
    assert query(ratio.format(h="9.9.9"), s, now=30.0) == []  # no such series: empty
    by = query('sum by (hash) (rate(req_total{hash=~"1\\\\.[45].*"}[30s]))', s, now=30.0)
    # 100 requests per 15 s per pod
    assert sorted((dict(k)["hash"], round(v, 6)) for k, v in by) == [("1.4.0", 6.666667), ("1.5.0", 6.666667)]  # type: ignore[union-attr]
    assert query("sum(rate(nothing[30s])) or vector(0)", s, now=30.0) == [((), 0.0)]


def test_histogram_quantile_interpolates_in_the_bucket() -> None:
    s = Store()
    # 100 observations per scrape interval: 90 under 0.1 s, 9 in (0.1, 0.25], 1 in (0.25, 0.5]
    for le, per in (("0.1", 90), ("0.25", 99), ("0.5", 100), ("+Inf", 100)):
        s.add("lat_bucket", {"pod": "a", "le": le}, scrapes([0, per, 2 * per]))
    q = "histogram_quantile({q}, sum by (le) (rate(lat_bucket[30s])))"
    (p50,) = query(q.format(q=0.5), s, now=30.0)  # type: ignore[misc]
    assert p50[1] == pytest.approx(0.1 * 50 / 90)
    (p99,) = query(q.format(q=0.99), s, now=30.0)  # type: ignore[misc]
    assert p99[1] == pytest.approx(0.25)  # rank 99 is the top of the second bucket
    (p995,) = query(q.format(q=0.995), s, now=30.0)  # type: ignore[misc]
    assert p995[1] == pytest.approx(0.25 + 0.25 * 0.5)
    s0 = Store()
    for le in ("0.1", "+Inf"):
        s0.add("lat_bucket", {"le": le}, scrapes([5, 5, 5]))
    (none,) = query(q.format(q=0.99), s0, now=30.0)  # type: ignore[misc]
    assert math.isnan(none[1])  # no observations in the window


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("topk(1, rate(x[1m]))", "function topk"),
        ("rate(x)", "takes a range selector"),
        ("x", "inside rate"),
        ('sum(rate(x{a="b"[1m]))', "expected"),
        ("rate(x[1y])", "cannot read the query"),
        ("sum(rate(x[1m])) /", "ends too early"),
        ('rate(x{a=~"("}[1m])', "bad regular expression"),
    ],
)
def test_outside_the_subset_is_a_clear_error(text: str, message: str) -> None:
    s = Store()
    with pytest.raises(QueryError, match=message):
        query(text, s, now=0.0)


def test_metric_names_of_a_query() -> None:
    q = "histogram_quantile(0.99, sum by (le) (rate(a_bucket[1m]))) / sum(rate(b_total[1m])) or vector(1)"
    assert metric_names(parse(q)) == {"a_bucket", "b_total"}

"""Pure parts: fault specs and injection, plan parsing, analysis rules, metrics, topology."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from backend_stub.faults import FaultError, FaultInjector, FaultSpec
from backend_stub.metrics import BuildMetrics, MetricsRegistry, percentile, prometheus_text
from backend_stub.rollout import MeasurementPhase, Pause, PlanError, SetWeight, evaluate_condition
from backend_stub.rollout.analysis import AnalysisRun, ConditionError, MetricRun
from backend_stub.rollout.plan import CANARY_REF, MetricSpec, parse_duration, parse_plan
from backend_stub.topology import TopologyError, load_topology, parse_topology

# -- faults ------------------------------------------------------------------------------


def test_fault_spec_parses_merges_and_describes() -> None:
    spec = FaultSpec.parse(["error_rate=0.2,latency_ms=30", "crash-on=7", "hang"])
    assert spec == FaultSpec(error_rate=0.2, latency_ms=30.0, crash_on=7, hang=True)
    assert FaultSpec.parse(spec.describe()) == spec
    assert FaultSpec(error_rate=0.1).merged(FaultSpec(latency_ms=5)) == FaultSpec(
        error_rate=0.1, latency_ms=5
    )
    assert not FaultSpec().active and FaultSpec().describe() == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("error_rte=0.2", "unknown fault 'error_rte'"),
        ("error_rate=2", "error_rate must be within 0..1"),
        ("error_rate=lots", "'lots' is not a valid value"),
        ("error_status=404", "must be a 5xx code"),
        ("latency_ms", "needs a value"),
    ],
)
def test_bad_fault_specs_get_specific_errors(text: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        FaultSpec.parse(text)


def test_deterministic_error_rate_is_evenly_spaced() -> None:
    inj = FaultInjector(FaultSpec(error_rate=0.2), started_at=0)
    fails = [inj.next_request()[1] for _ in range(20)]
    assert [i + 1 for i, f in enumerate(fails) if f] == [5, 10, 15, 20]
    third = FaultInjector(FaultSpec(error_rate=0.3), started_at=0)
    assert sum(third.next_request()[1] for _ in range(100)) == 30


def test_seeded_error_rate_repeats_and_differs_from_even_spacing() -> None:
    def run(seed: int) -> list[bool]:
        inj = FaultInjector(FaultSpec(error_rate=0.2, seed=seed), started_at=0)
        return [inj.next_request()[1] for _ in range(200)]

    assert run(3) == run(3)
    assert run(3) != run(4)
    assert 20 <= sum(run(3)) <= 60


def test_crash_on_nth_and_slow_start() -> None:
    inj = FaultInjector(FaultSpec(crash_on=3, slow_start_s=2), started_at=10)
    assert [inj.next_request()[0] for _ in range(3)] == [False, False, True]
    assert not inj.ready(11.9) and inj.ready(12.0)


# -- plans and analysis ------------------------------------------------------------------

ROLLOUT = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: p}
spec:
  strategy:
    canary:
      steps: %s
"""


def test_plan_steps_and_durations() -> None:
    p = parse_plan(
        ROLLOUT % "[{setWeight: 10}, {pause: {duration: 2m}}, {pause: {}}, {pause: {duration: 90}}]"
    )
    assert p.steps == (SetWeight(10), Pause(120.0), Pause(None), Pause(90.0))
    assert p.analysis is None and p.abort_scale_down_delay_s == 30
    assert parse_duration("1h", where="x") == 3600 and parse_duration("250ms", where="x") == 0.25


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("[{setWeight: 120}]", "setWeight must be an integer 0..100"),
        ("[{setCanaryScale: {replicas: 1}}]", "unsupported step 'setCanaryScale'"),
        ("[{pause: {duration: soon}}]", "'soon' is not a duration"),
        ("[]", "no steps"),
    ],
)
def test_plan_errors_are_specific(steps: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        parse_plan(ROLLOUT % steps)


def test_plan_file_errors() -> None:
    with pytest.raises(PlanError, match="not valid YAML"):
        parse_plan("kind: [")
    with pytest.raises(PlanError, match="exactly one document of kind Rollout"):
        parse_plan("kind: Service")
    with pytest.raises(PlanError, match="no AnalysisTemplate named 'x'"):
        parse_plan((ROLLOUT % "[{setWeight: 5}]") + "      analysis: {templates: [{templateName: x}]}\n")


def test_shipped_plan_matches_argo_semantics() -> None:
    from backend_stub.rollout import load_plan

    p = load_plan(Path("config/rollouts/payments.yaml"))
    assert [s.weight for s in p.steps if isinstance(s, SetWeight)] == [10, 25, 50, 100]
    assert p.analysis is not None and p.analysis.starting_step == 1
    names = {m.name: m for m in p.analysis.metrics}
    assert names["success-rate"].failure_limit == 2 and names["success-rate"].interval_s == 30
    assert f'rollouts_pod_template_hash="{CANARY_REF}"' in names["success-rate"].query
    assert names["latency-p99"].query.startswith("histogram_quantile(0.99,")
    assert names["latency-p99"].consecutive_error_limit == 4
    q = names["success-rate"].query_for(canary="1.5.0", stable="1.4.0")
    assert 'rollouts_pod_template_hash="1.5.0"' in q and CANARY_REF not in q


def test_plan_refuses_a_provider_it_cannot_run_and_a_query_outside_the_subset() -> None:
    base = (ROLLOUT % "[{setWeight: 5}]") + (
        "      analysis: {templates: [{templateName: t}]}\n---\nkind: AnalysisTemplate\n"
        "metadata: {name: t}\nspec:\n  metrics:\n    - name: m\n      successCondition: result[0] > 0\n"
    )
    with pytest.raises(PlanError, match="provider web is not run here"):
        parse_plan(base + "      provider: {web: {url: 'http://x'}}\n")
    with pytest.raises(PlanError, match=r"function label_replace\(\) is not in the emulator's PromQL subset"):
        parse_plan(base + '      provider: {prometheus: {query: \'label_replace(x, "a", "b", "c", "d")\'}}\n')
    with pytest.raises(PlanError, match="cannot read condition"):
        parse_plan(
            base.replace("result[0] > 0", "result[0] ~ 1")
            + "      provider: {prometheus: {query: 'vector(1)'}}\n"
        )
    with pytest.raises(PlanError, match="argument 'nope' has no value"):
        parse_plan(base + "      provider: {prometheus: {query: 'sum(rate(x{a=\"{{args.nope}}\"}[1m]))'}}\n")


@pytest.mark.parametrize(
    ("expr", "value", "want"),
    [
        ("result >= 0.95", 0.95, True),
        ("result >= 0.95", 0.9499, False),
        ("result[0] < 250", [249.9], True),
        ("result > 0.5 && result < 0.9", 0.7, True),
        ("result > 0.5 and result < 0.9", 0.95, False),
        ("result < 0.1 || result > 0.9", 0.95, True),
        # what Argo users write so that no data (no series, or 0/0) passes
        ("len(result) == 0 || isNaN(result[0]) || result[0] >= 0.95", [], True),
        ("len(result) == 0 || isNaN(result[0]) || result[0] >= 0.95", [math.nan], True),
        ("len(result) == 0 || isNaN(result[0]) || result[0] >= 0.95", [0.8], False),
        ("len(result) > 0 && result[0] >= 0.95", [], False),
        ("!(result[0] < 0.5) && not isInf(result[0])", [0.7], True),
        ("default(result, 0) < 0.05", None, True),
        ("result[0] * 1000 <= 250", [0.2], True),
    ],
)
def test_conditions(expr: str, value: float | list[float] | None, want: bool) -> None:
    assert evaluate_condition(expr, value) is want


@pytest.mark.parametrize(
    ("expr", "value", "error"),
    [
        ("result[0] >= 0.95", [], "index out of range"),  # Argo: an Error measurement, not a pass
        ("result >= 0.95", [0.99], "invalid operation"),  # a vector compared with a number
        ("isNaN(result[0])", [], "index out of range"),
        ("result[0]", [1.0], "expected bool"),
    ],
)
def test_conditions_that_argo_cannot_evaluate_are_errors(expr: str, value: list[float], error: str) -> None:
    with pytest.raises(ConditionError, match=error):
        evaluate_condition(expr, value)


def test_unreadable_condition_is_a_plan_error() -> None:
    from backend_stub.rollout.analysis import check_condition

    with pytest.raises(PlanError, match="cannot read condition"):
        check_condition("resultat > 0", where="m")
    with pytest.raises(PlanError, match="cannot read condition"):
        check_condition("result[0] >=", where="m")


def spec(**kw: object) -> MetricSpec:
    base: dict[str, object] = {
        "name": "m",
        "query": "vector(1)",
        "interval_s": 10,
        "success_condition": "result[0] >= 0.95",
    }
    return MetricSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_failure_limit_fails_when_failures_exceed_it() -> None:
    run = MetricRun(spec(failure_limit=2))
    phases = [run.measure(t, [v]).phase for t, v in enumerate([0.5, 0.99, 0.5, 0.5])]
    assert phases[0] is MeasurementPhase.FAILED and phases[1] is MeasurementPhase.SUCCESSFUL
    assert run.failed == 3 and run.phase is MeasurementPhase.FAILED
    assert run.message == "failed (3) > failureLimit (2)"
    run2 = MetricRun(spec(failure_limit=2))
    for t in range(2):
        run2.measure(t, [0.5])
    assert run2.phase is MeasurementPhase.RUNNING  # 2 failures, limit 2: not yet
    never = MetricRun(spec(failure_limit=-1))
    for t in range(10):
        never.measure(t, [0.1])
    assert never.phase is MeasurementPhase.RUNNING  # a negative limit never fails the metric


def test_consecutive_error_limit_defaults_to_four_and_resets() -> None:
    run = MetricRun(spec())
    for t in range(4):
        run.measure(t, None, error="connection refused")
    assert run.phase is MeasurementPhase.RUNNING
    run.measure(4, [0.99])  # a good measurement resets the streak
    for t in range(5, 9):
        run.measure(t, [])  # no data, and a condition that indexes it: an Error each time
    assert run.phase is MeasurementPhase.RUNNING
    assert run.measurements[-1].message.startswith("could not evaluate condition: index out of range")
    run.measure(9, [])
    assert run.phase is MeasurementPhase.ERROR and run.consecutive_errors == 5
    assert run.message == "consecutiveErrors (5) > consecutiveErrorLimit (4)"


def test_inconclusive_needs_both_conditions_and_count_completes() -> None:
    run = MetricRun(spec(failure_condition="result[0] < 0.5"))
    assert run.measure(0, [0.8]).phase is MeasurementPhase.INCONCLUSIVE
    assert run.phase is MeasurementPhase.INCONCLUSIVE  # inconclusiveLimit 0
    done = MetricRun(spec(count=2))
    done.measure(0, [0.99])
    done.measure(1, None)  # errors do not count towards count
    assert done.phase is MeasurementPhase.RUNNING
    done.measure(2, [0.99])
    assert done.phase is MeasurementPhase.SUCCESSFUL
    once = MetricRun(spec(interval_s=None))  # no interval: a single measurement
    once.measure(0, [0.99])
    assert once.phase is MeasurementPhase.SUCCESSFUL


def test_first_measurement_at_once_then_interval_and_error_retry_after_10s() -> None:
    run = AnalysisRun.start(
        (spec(interval_s=30), spec(name="late", initial_delay_s=60)), now=100, scale=float
    )
    assert [m.spec.name for m in run.due(100)] == ["m"]  # Argo measures at once ...
    m = run.metrics[0]
    m.measure(100, [0.99])
    run.advance(m, 100, scale=float)
    assert run.next_at["m"] == 130 and [x.spec.name for x in run.due(160)] == [
        "m",
        "late",
    ]  # ... and after initialDelay
    m.measure(130, None)
    run.advance(m, 130, scale=float)
    assert run.next_at["m"] == 140  # an Error is retried after 10 s, not the interval


# -- metrics -------------------------------------------------------------------------------


def test_window_figures_and_percentiles() -> None:
    bm = BuildMetrics("payments", "1.5.0")
    for i in range(100):
        bm.record(10.0 + i * 0.01, 503 if i % 10 == 0 else 200, (i + 1) / 1000)
    w = bm.window(11.0, 1.0)
    assert w.requests == 100 and w.failures == 10 and w.success_rate == 0.9
    assert w.p50_ms == pytest.approx(50.0) and w.p99_ms == pytest.approx(99.0)
    assert bm.window(20.0, 1.0).success_rate is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert bm.window(11.0, 1.0).as_json()["requests"] == 100


def test_prometheus_text_format() -> None:
    reg = MetricsRegistry()
    reg.record("payments", '1.5"x', 1.0, 200, 0.003)
    reg.record("payments", '1.5"x', 1.0, 500, 0.2)
    text = prometheus_text(reg, now=1.0, window_s=1.0, gauges=[("g", "help", {"a": "b"}, 2)])
    lines = text.splitlines()
    assert 'cryptopos_gateway_requests_total{service="payments",build="1.5\\"x",code="5xx"} 1' in lines
    assert (
        'cryptopos_gateway_request_duration_seconds_bucket{service="payments",build="1.5\\"x",le="0.005"} 1'
        in lines
    )
    assert (
        'cryptopos_gateway_request_duration_seconds_bucket{service="payments",build="1.5\\"x",le="+Inf"} 2'
        in lines
    )
    assert 'cryptopos_gateway_success_rate{service="payments",build="1.5\\"x"} 0.5' in lines
    assert "# TYPE g gauge" in lines and 'g{a="b"} 2' in lines
    for line in lines:  # every sample line: name{labels} value
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


# -- topology ----------------------------------------------------------------------------


def test_shipped_topology_loads() -> None:
    topo = load_topology(Path("config/backend.toml"))
    assert topo.services["payments"].stable == "1.4.0"
    assert topo.services["payments"].builds["1.5.1-bad"].fault_spec().error_rate == 0.2
    assert topo.scaled(60) == 1.0


def test_topology_reports_every_problem() -> None:
    with pytest.raises(TopologyError) as info:
        parse_topology(
            {
                "servics": {},
                "services": {
                    "payments": {"stable": "9.9", "builds": {"1.0": {"faults": {"error_rate": 3}}}},
                },
            }
        )
    text = str(info.value)
    assert "servics" in text and "error_rate must be within 0..1" in text
    with pytest.raises(TopologyError, match="file not found"):
        load_topology(Path("nope.toml"))


def test_an_instance_takes_its_refund_policy_from_the_environment_on_kubernetes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """deploy/k8s/payments.yaml hands the policy over in $CRYPTOPOS_REFUNDS (a ConfigMap)."""
    from backend_stub import instance

    argv = ["--service", "payments", "--build", "1.4.0", "--port", "8080", "--run-dir", "/tmp/x"]
    monkeypatch.setenv(instance.REFUNDS_ENV, '{"window_days": 9, "timezone": "Asia/Tokyo"}')
    got = instance._refunds(instance.parse_args(argv).refunds)
    assert got == {"window_days": 9, "timezone": "Asia/Tokyo"}
    assert instance._refunds(instance.parse_args([*argv, "--refunds", '{"window_days": 3}']).refunds) == {
        "window_days": 3  # the command line wins
    }
    monkeypatch.delenv(instance.REFUNDS_ENV)
    assert instance._refunds(instance.parse_args(argv).refunds) is None  # the contract's default
    with pytest.raises(SystemExit, match="CRYPTOPOS_REFUNDS: not JSON"):
        instance._refunds('{"window_days": 9')
    with pytest.raises(SystemExit, match="a JSON object"):
        instance._refunds("[9]")

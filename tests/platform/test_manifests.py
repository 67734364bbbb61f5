"""deploy/: Kubernetes manifests validated offline against vendored schemas, and checked to
express the same plan as the emulator's config (steps, analysis, autoscaling)."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from backend_stub.rollout import SetWeight, load_plan
from backend_stub.rollout.plan import Pause, parse_duration

SCHEMAS = Path(__file__).parent / "schemas"
K8S = Path("deploy/k8s")
SERVICES = ("rates", "payments")


def schema_for(doc: dict[str, Any]) -> dict[str, Any]:
    name = f"{doc['apiVersion'].replace('/', '-')}-{doc['kind']}.json"
    path = SCHEMAS / name
    assert path.exists(), f"no schema for {doc['apiVersion']} {doc['kind']}"
    schema: dict[str, Any] = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def docs(service: str) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in yaml.safe_load_all((K8S / f"{service}.yaml").read_text()):
        by_kind.setdefault(d["kind"], []).append(d)
    return by_kind


@pytest.mark.parametrize("service", SERVICES)
def test_manifests_validate_against_the_schemas(service: str) -> None:
    kinds = docs(service)
    assert set(kinds) == {"Service", "Ingress", "Rollout", "AnalysisTemplate", "HorizontalPodAutoscaler"}
    for group in kinds.values():
        for d in group:
            jsonschema.validate(d, schema_for(d), cls=jsonschema.Draft202012Validator)


def test_schemas_reject_what_a_cluster_would_silently_ignore_or_refuse() -> None:
    rollout = docs("payments")["Rollout"][0]
    schema = schema_for(rollout)
    typo = copy.deepcopy(rollout)
    typo["spec"]["strategy"]["canary"]["steps"][0] = {"setWieght": 10}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, schema)
    too_much = copy.deepcopy(rollout)
    too_much["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 140}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(too_much, schema)
    hpa = docs("payments")["HorizontalPodAutoscaler"][0]
    bad = copy.deepcopy(hpa)
    del bad["spec"]["maxReplicas"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema_for(hpa))


@pytest.mark.parametrize("service", SERVICES)
def test_manifests_express_the_emulators_plan(service: str) -> None:
    kinds = docs(service)
    plan = load_plan(Path(f"config/rollouts/{service}.yaml"))
    canary = kinds["Rollout"][0]["spec"]["strategy"]["canary"]
    k8s_steps = []
    for s in canary["steps"]:
        if "setWeight" in s:
            k8s_steps.append(SetWeight(s["setWeight"]))
        else:
            d = s["pause"].get("duration")
            k8s_steps.append(Pause(None if d is None else parse_duration(d, where="k8s")))
    assert tuple(k8s_steps) == plan.steps
    assert canary["abortScaleDownDelaySeconds"] == plan.abort_scale_down_delay_s
    assert canary["scaleDownDelaySeconds"] == plan.scale_down_delay_s
    assert plan.analysis is not None and canary["analysis"]["startingStep"] == plan.analysis.starting_step
    k8s_metrics = {m["name"]: m for m in kinds["AnalysisTemplate"][0]["spec"]["metrics"]}
    for m in plan.analysis.metrics:
        k = k8s_metrics[m.name]
        assert parse_duration(k["interval"], where="k8s") == m.interval_s
        assert k.get("failureLimit", 0) == m.failure_limit
        assert k.get("consecutiveErrorLimit", 4) == m.consecutive_error_limit
        # the same threshold; Prometheus reports seconds where the emulator reports ms
        op, threshold = m.success_condition.split()[1:] if m.success_condition else ("", "")
        k_op, k_threshold = k["successCondition"].split()[1:]
        scale = 1000 if m.metric.endswith("_ms") else 1
        assert k_op == op and float(k_threshold) * scale == float(threshold)

    topo = tomllib.loads(Path("config/backend.toml").read_text())
    svc, auto = topo["services"][service], topo["autoscale"]
    hpa = kinds["HorizontalPodAutoscaler"][0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (svc["min_replicas"], svc["max_replicas"])
    assert float(hpa["metrics"][0]["pods"]["target"]["averageValue"]) == svc["target_rps_per_instance"]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == auto["scale_down_stabilization_s"]
    up = {p["type"]: p for p in hpa["behavior"]["scaleUp"]["policies"]}
    assert up["Percent"]["value"] == auto["scale_up_percent"] and up["Pods"]["value"] == auto["scale_up_pods"]
    assert kinds["Rollout"][0]["spec"]["replicas"] == svc["replicas"]


@pytest.mark.parametrize("service", SERVICES)
def test_a_dockerfile_per_service_runs_that_service(service: str) -> None:
    text = Path(f"deploy/docker/{service}.Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    assert f"--service {service}" in text and "backend_stub.instance" in text
    assert "USER 10001" in text

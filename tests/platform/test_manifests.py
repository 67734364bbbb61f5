"""deploy/: Kubernetes manifests that would run on a cluster as written.

- Kubernetes' own kinds pass ``kubernetes-validate --strict`` (the official schemas it ships),
  and so does each Rollout's pod template, checked as a Deployment's.
- The operators' kinds (Rollout, AnalysisTemplate, PodMonitor, ScaledObject, CNPG Cluster)
  validate against schemas derived from their official CRDs, and every field path the
  manifests use exists in those schemas.
- They say what the emulator's config says: steps, analysis queries and conditions, scrape
  interval, scaling; the queries' windows span at least two scrape intervals.
- The pods are hardened and wired: DSN from the database operator's Secret, no shared volume,
  probes, resources, non-root, read-only root filesystem; PDBs; TLS Ingress routes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from backend_stub.autoscale import scale_query
from backend_stub.instance import REFUNDS_ENV
from backend_stub.promql import Aggregate, Binary, Call, Node, Selector, parse
from backend_stub.rollout import SetWeight, load_plan
from backend_stub.rollout.plan import CANARY_REF, Pause, parse_duration
from backend_stub.settings import RefundPolicy

SCHEMAS = Path(__file__).parent / "schemas"
K8S = Path("deploy/k8s")
SERVICES = ("rates", "payments")
K8S_VERSION = "1.30.0"  # the oldest Kubernetes these manifests are meant for
CRD_KINDS = {"Rollout", "AnalysisTemplate", "PodMonitor", "ScaledObject", "Cluster"}


def all_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(f, d) for f in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def docs(service: str) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in yaml.safe_load_all((K8S / f"{service}.yaml").read_text()):
        by_kind.setdefault(d["kind"], []).append(d)
    return by_kind


def one(kinds: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    (found,) = kinds[kind]
    return found


def schema_for(doc: dict[str, Any]) -> dict[str, Any]:
    path = SCHEMAS / f"{doc['apiVersion'].replace('/', '-')}-{doc['kind']}.json"
    assert path.exists(), f"no schema for {doc['apiVersion']} {doc['kind']}"
    schema: dict[str, Any] = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def as_deployment(rollout: dict[str, Any]) -> dict[str, Any]:
    """A Rollout's pod template and selector in a Deployment, for the official schemas."""
    spec = rollout["spec"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": rollout["metadata"],
        "spec": {"replicas": spec["replicas"], "selector": spec["selector"], "template": spec["template"]},
    }


# -- kubernetes-validate (official schemas) ---------------------------------------------------


def test_every_manifest_passes_kubernetes_validate_strict() -> None:
    files = sorted(str(f) for f in K8S.glob("*.yaml"))
    run = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "--quiet", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # the only kinds it cannot check are the operators' (checked below against their CRDs)
    unchecked = {
        line.split("kind ")[1].split()[0] for line in run.stdout.splitlines() if "find schema" in line
    }
    assert unchecked == CRD_KINDS, run.stdout
    assert "ERROR" not in run.stdout


def test_core_kinds_and_pod_templates_against_the_official_schemas() -> None:
    checked = set()
    for _, d in all_docs():
        target = as_deployment(d) if d["kind"] == "Rollout" else d
        if target["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(target, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{d['kind']} {d['metadata']['name']}: {exc.message} at {list(exc.absolute_path)}")
        checked.add(target["kind"])
    assert checked == {"Namespace", "Service", "Ingress", "PodDisruptionBudget", "Deployment", "ConfigMap"}


def test_kubernetes_validate_refuses_what_a_cluster_would_refuse() -> None:
    rollout = one(docs("payments"), "Rollout")
    bad = as_deployment(copy.deepcopy(rollout))
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    pdb = copy.deepcopy(one(docs("payments"), "PodDisruptionBudget"))
    pdb["spec"]["maxUnavailabel"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pdb, K8S_VERSION, strict=True)


# -- the operators' kinds against schemas derived from their CRDs ----------------------------


def test_custom_resources_validate_against_their_crd_schemas() -> None:
    kinds = set()
    for path, d in all_docs():
        if d["kind"] not in CRD_KINDS:
            continue
        errors = list(jsonschema.Draft202012Validator(schema_for(d)).iter_errors(d))
        assert not errors, f"{path} {d['kind']}: " + "; ".join(
            f"{e.message} at {'/'.join(map(str, e.absolute_path))}" for e in errors
        )
        kinds.add(d["kind"])
        assert "derived by scripts/derive_crd_schemas.py" in schema_for(d)["$comment"]
    assert kinds == CRD_KINDS


def field_paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*prefix, k)
            yield from field_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for item in value:
            yield from field_paths(item, (*prefix, "[]"))


def schema_at(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for key in path:
        if node is None:
            return None
        if node.get("x-kubernetes-preserve-unknown-fields") and key not in node.get("properties", {}):
            return node  # the CRD accepts anything below (the pod template's parts are checked above)
        if key == "[]":
            node = node.get("items")
        elif key in node.get("properties", {}):
            node = node["properties"][key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


def test_every_field_path_the_manifests_use_is_in_the_crd_schemas() -> None:
    missing, seen = [], 0
    for path, d in all_docs():
        if d["kind"] not in CRD_KINDS:
            continue
        schema = schema_for(d)
        for p in field_paths(d):
            seen += 1
            if schema_at(schema, p) is None:
                missing.append(f"{path} {d['kind']}: {'.'.join(p)}")
    assert missing == []
    assert seen > 300  # the walk really went through the manifests


def test_crd_schemas_refuse_what_the_api_server_would_drop_or_refuse() -> None:
    kinds = docs("payments")
    rollout = one(kinds, "Rollout")
    schema = schema_for(rollout)
    for mutate in (
        lambda r: r["spec"]["strategy"]["canary"]["steps"].__setitem__(0, {"setWieght": 10}),
        lambda r: r["spec"]["strategy"]["canary"]["steps"].__setitem__(0, {"setWeight": "ten"}),
        lambda r: r["spec"]["strategy"]["canary"].__setitem__("analysys", {}),
        lambda r: r["spec"]["template"]["spec"]["containers"][0].__setitem__("imagePullPolicyy", "Always"),
    ):
        bad = copy.deepcopy(rollout)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    so = one(kinds, "ScaledObject")
    bad_so = copy.deepcopy(so)
    bad_so["spec"]["minReplicas"] = 1  # the HPA's name, not KEDA's (minReplicaCount)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_so, schema_for(so))
    at = one(kinds, "AnalysisTemplate")
    bad_at = copy.deepcopy(at)
    bad_at["spec"]["metrics"][0]["provider"]["prometheus"]["querry"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_at, schema_for(at))


# -- one plan in both worlds -------------------------------------------------------------------


def canary_query(text: str) -> Node:
    """A query with the canary's hash argument in the emulator's placeholder, parsed."""
    return parse(text.replace("{{args.canary-hash}}", CANARY_REF).strip())


def ranges(node: Node) -> list[float]:
    if isinstance(node, Selector):
        return [node.range_s] if node.range_s is not None else []
    if isinstance(node, Call):
        return [r for a in node.args for r in ranges(a)]
    if isinstance(node, Aggregate):
        return ranges(node.expr)
    if isinstance(node, Binary):
        return ranges(node.left) + ranges(node.right)
    return []


@pytest.mark.parametrize("service", SERVICES)
def test_manifests_express_the_emulators_plan(service: str) -> None:
    kinds = docs(service)
    plan = load_plan(Path(f"config/rollouts/{service}.yaml"))
    canary = one(kinds, "Rollout")["spec"]["strategy"]["canary"]
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
    assert canary["analysis"]["args"] == [
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}
    ]
    topo = tomllib.loads(Path("config/backend.toml").read_text())
    scrape_s = topo["monitoring"]["scrape_interval_s"]
    k8s_metrics = {m["name"]: m for m in one(kinds, "AnalysisTemplate")["spec"]["metrics"]}
    assert set(k8s_metrics) == {m.name for m in plan.analysis.metrics}
    for m in plan.analysis.metrics:
        k = k8s_metrics[m.name]
        assert parse_duration(k["interval"], where="k8s") == m.interval_s
        assert k.get("failureLimit", 0) == m.failure_limit
        assert k.get("consecutiveErrorLimit", 4) == m.consecutive_error_limit
        assert k.get("inconclusiveLimit", 0) == m.inconclusive_limit
        assert parse_duration(k.get("initialDelay", 0), where="k8s") == m.initial_delay_s
        assert k.get("successCondition") == m.success_condition
        assert k.get("failureCondition") == m.failure_condition
        # the very query the emulator runs over its scrapes goes to Prometheus
        assert canary_query(k["provider"]["prometheus"]["query"]) == parse(m.query)
        assert k["provider"]["prometheus"]["address"].startswith("http://")
        assert all(r >= 2 * scrape_s for r in ranges(parse(m.query))), "a window under two scrapes"

    svc, auto = topo["services"][service], topo["autoscale"]
    rollout = one(kinds, "Rollout")
    assert rollout["spec"]["replicas"] == svc["replicas"]
    so = one(kinds, "ScaledObject")["spec"]
    assert so["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": service}
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (svc["min_replicas"], svc["max_replicas"])
    assert so["pollingInterval"] == auto["interval_s"]
    (trigger,) = so["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert float(trigger["metadata"]["threshold"]) == svc["target_rps_per_instance"]
    assert parse(trigger["metadata"]["query"]) == parse(scale_query(service, auto["window_s"]))
    assert all(r >= 2 * scrape_s for r in ranges(parse(trigger["metadata"]["query"])))
    behavior = so["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == auto["scale_down_stabilization_s"]
    up = {p["type"]: p for p in behavior["scaleUp"]["policies"]}
    assert up["Percent"]["value"] == auto["scale_up_percent"] and up["Pods"]["value"] == auto["scale_up_pods"]
    assert {p["periodSeconds"] for p in behavior["scaleUp"]["policies"]} == {auto["scale_up_period_s"]}
    (monitor,) = [d for _, d in all_docs() if d["kind"] == "PodMonitor"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert parse_duration(endpoint["interval"], where="k8s") == scrape_s


# -- what the pods are and what they are wired to ----------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_pods_are_hardened_and_wired(service: str) -> None:
    kinds = docs(service)
    rollout = one(kinds, "Rollout")
    template = rollout["spec"]["template"]
    pod = template["spec"]
    labels = template["metadata"]["labels"]
    (container,) = pod["containers"]
    build = topo_stable(service)
    # the build in the image tag, the argument and the version label is the topology's stable one
    assert container["image"] == f"cryptopos/{service}:{build}"
    assert f"--build={build}" in container["args"] and labels["app.kubernetes.io/version"] == build
    assert f"--service={service}" in container["args"]
    assert container["command"] == ["python", "-m", "backend_stub.instance"]
    # security: non-root, group-owned volumes, read-only root, nothing to escalate to
    sc = pod["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001 and sc["fsGroup"] == 10001
    csc = container["securityContext"]
    assert csc["readOnlyRootFilesystem"] is True and csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    # probes and resources
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    # no shared volume: only per-pod emptyDirs, and the ledger from the database's Secret
    assert all(set(v) == {"name", "emptyDir"} for v in pod["volumes"])
    env = {e["name"]: e for e in container["env"]}
    (cluster,) = [d for _, d in all_docs() if d["kind"] == "Cluster"]
    assert env["CRYPTOPOS_STORE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{cluster['metadata']['name']}-app",  # what CloudNativePG creates for the app user
        "key": "uri",
    }
    assert "secretKeyRef" in env["CRYPTOPOS_MASTER_KEY"]["valueFrom"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"]["value"].startswith(tuple(mounts))  # writable, per pod
    # the PodMonitor scrapes these pods on a port they have, with the pod template hash
    (monitor,) = [d for _, d in all_docs() if d["kind"] == "PodMonitor"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["podTargetLabels"] == ["rollouts-pod-template-hash"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {p["name"] for p in container["ports"]} and endpoint["path"] == "/metrics"
    # a PodDisruptionBudget for these pods; Services and Ingress point at them
    pdb = one(kinds, "PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items() and pdb["maxUnavailable"] == 1
    for s in kinds["Service"]:
        assert s["spec"]["selector"].items() <= labels.items()
    canary = rollout["spec"]["strategy"]["canary"]
    assert {canary["canaryService"], canary["stableService"]} == {
        s["metadata"]["name"] for s in kinds["Service"]
    }
    assert canary["trafficRouting"]["nginx"]["stableIngress"] == one(kinds, "Ingress")["metadata"]["name"]
    assert all(d["metadata"]["namespace"] == "cryptopos" for d in (x for g in kinds.values() for x in g))


def topo_stable(service: str) -> str:
    return str(tomllib.loads(Path("config/backend.toml").read_text())["services"][service]["stable"])


def test_ingress_routes_discovery_payments_and_rates_over_tls() -> None:
    routes: dict[str, str] = {}
    for service in SERVICES:
        ing = one(docs(service), "Ingress")
        assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        (tls,) = ing["spec"]["tls"]
        for rule in ing["spec"]["rules"]:
            assert rule["host"] in tls["hosts"] and tls["secretName"]
            for p in rule["http"]["paths"]:
                routes[p["path"]] = p["backend"]["service"]["name"]
    assert routes == {
        "/payments": "payments-stable",
        "/discovery": "payments-stable",
        "/rates": "rates-stable",
    }
    # the pods behind /discovery answer for every service (no gateway merges the documents)
    (container,) = one(docs("payments"), "Rollout")["spec"]["template"]["spec"]["containers"]
    assert "--discovery-services=rates,payments" in container["args"]


def test_payments_pods_hold_refunds_to_the_configs_policy() -> None:
    """Without it a cluster would run the contract's default (every refund approved, no daily
    limit), not the merchant's [refunds]: the ConfigMap is that table, read at pod start."""
    kinds = docs("payments")
    (cm,) = [c for c in kinds["ConfigMap"] if c["metadata"]["name"] == "cryptopos-refund-policy"]
    shipped = RefundPolicy.from_config(json.loads(cm["data"]["policy.json"]))
    config = RefundPolicy.from_config(tomllib.loads(Path("config/backend.toml").read_text())["refunds"])
    assert shipped == config
    (container,) = one(kinds, "Rollout")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env[REFUNDS_ENV]["valueFrom"]["configMapKeyRef"] == {
        "name": "cryptopos-refund-policy",
        "key": "policy.json",
    }
    assert "ConfigMap" not in docs("rates")  # rates has no refunds


def test_the_ledger_is_a_cloudnativepg_cluster_on_volumes_of_its_own() -> None:
    (cluster,) = [d for _, d in all_docs() if d["kind"] == "Cluster"]
    spec = cluster["spec"]
    assert spec["instances"] >= 3 and spec["storage"]["size"]
    assert spec["affinity"]["enablePodAntiAffinity"] is True
    assert not [d for _, d in all_docs() if d["kind"] == "PersistentVolumeClaim"]


# -- images ------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_a_dockerfile_per_service_installs_only_the_backend_extra(service: str) -> None:
    text = Path(f"deploy/docker/{service}.Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    assert "pip install --no-deps ." in text and "extra_requirements.py cryptopos backend" in text
    assert f"--service={service}" in text and "backend_stub.instance" in text
    assert "USER 10001:10001" in text
    (container,) = one(docs(service), "Rollout")["spec"]["template"]["spec"]["containers"]
    # the image's own command and the manifest's say the same, but for the build
    cmd = text.split('"exec ', 1)[1].split('"]', 1)[0].replace('\\"', '"')
    image_args = [a for a in cmd.split()[3:] if not a.startswith("--build=")]
    assert image_args == [a for a in container["args"] if not a.startswith("--build=")]


def test_the_backend_extra_is_what_pyproject_lists() -> None:
    sys.path.insert(0, "deploy/docker")
    try:
        from extra_requirements import extra_requirements  # type: ignore[import-not-found]
    finally:
        sys.path.remove("deploy/docker")
    listed = tomllib.loads(Path("pyproject.toml").read_text())["project"]["optional-dependencies"]["backend"]
    assert extra_requirements("cryptopos", "backend") == listed
    assert not {"textual", "qrcode"} & {r.split(">")[0].split("=")[0] for r in listed}

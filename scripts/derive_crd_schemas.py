"""Derive the JSON Schemas in tests/platform/schemas/ from the official CRDs of the operators
deploy/k8s relies on (Argo Rollouts, prometheus-operator, KEDA, CloudNativePG).

kubernetes-validate ships the official schemas of Kubernetes' own kinds, not of CRDs. A CRD's
``openAPIV3Schema`` is what the API server validates against, so the schemas here are cut from
it: at every level deploy/k8s uses, every property the CRD defines is kept (with its type,
enum, bounds and required list) and ``additionalProperties: false`` is added where the CRD does
not preserve unknown fields (the API server would drop a misspelt field without a word;
``kubectl apply --validate=strict`` refuses it); below fields the manifests do not use only the
type is kept, so the files stay small. ``metadata`` (plain ``object`` in a CRD) gets the
ObjectMeta fields the manifests use.

Run it with the CRD files of the versions you deploy, each as ``LABEL=PATH`` (LABEL says where
it came from, recorded in the schema's ``$comment``):

    python scripts/derive_crd_schemas.py \\
      "argoproj/argo-rollouts@9f8d111 manifests/crds/rollout-crd.yaml=rollout-crd.yaml" ...

Re-run it when deploy/k8s starts using a field of a CRD it did not use before.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path("deploy/k8s")
OUT = Path("tests/platform/schemas")
KEEP = (
    "type",
    "required",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "format",
)
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}


def used_tree(values: list[Any]) -> dict[str, Any]:
    """The union of the key paths of ``values`` (lists under "[]")."""
    tree: dict[str, Any] = {}
    for v in values:
        if isinstance(v, dict):
            for k, sub in v.items():
                tree[k] = _merge(tree.get(k, {}), used_tree([sub]))
        elif isinstance(v, list):
            tree["[]"] = _merge(tree.get("[]", {}), used_tree(v))
    return tree


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out.get(k, {}), v)
    return out


def _basic(schema: dict[str, Any], *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {k: schema[k] for k in (KEEP if full else ("type", "enum")) if k in schema}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        # anything goes here for the API server (Argo's CRD says so of a pod's resources and
        # volumes; tests/platform/test_manifests.py checks those against the official schemas)
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def prune(schema: dict[str, Any], used: dict[str, Any] | None) -> dict[str, Any]:
    if used is None:
        return _basic(schema, full=False)
    out = _basic(schema, full=True)
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if "properties" in schema:
        out["properties"] = {
            name: prune(sub, used.get(name) if name in used else None)
            for name, sub in schema["properties"].items()
        }
        if not preserve:
            out["additionalProperties"] = False
    elif isinstance(schema.get("additionalProperties"), dict):
        every = {}
        for sub in used.values():
            every = _merge(every, sub)
        out["additionalProperties"] = prune(schema["additionalProperties"], every)
    if isinstance(schema.get("items"), dict):
        out["items"] = prune(schema["items"], used.get("[]", {}))
    return out


def derive(label: str, crd: dict[str, Any], docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    out = []
    for version in crd["spec"]["versions"]:
        api = f"{group}/{version['name']}"
        mine = [d for d in docs if d.get("apiVersion") == api and d.get("kind") == kind]
        if not mine:
            continue
        schema = prune(version["schema"]["openAPIV3Schema"], used_tree(mine))
        schema["properties"]["metadata"] = OBJECT_META
        schema["properties"]["apiVersion"] = {"const": api}
        schema["properties"]["kind"] = {"const": kind}
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
        schema["additionalProperties"] = False
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": f"derived by scripts/derive_crd_schemas.py from {label}",
            "title": f"{api} {kind}",
            **schema,
        }
        out.append((f"{api.replace('/', '-')}-{kind}.json", schema))
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    docs = [d for f in sorted(MANIFESTS.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    for arg in argv:
        label, _, path = arg.rpartition("=")
        crd = yaml.safe_load(Path(path).read_text())
        for name, schema in derive(label or path, crd, docs):
            (OUT / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
            print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

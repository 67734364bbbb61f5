"""What the instances export at /metrics, read with prometheus_client's own parser.

- every metric (and label) an AnalysisTemplate or the ScaledObject in deploy/k8s queries, and
  the emulator's plans in config/rollouts, is exported by a real instance process on loopback;
- an instance counts what it answers, injected faults included, and not its probes;
- with uvicorn workers, multiprocess mode sums every worker's samples;
- the gateway's hand-written exposition parses with the same parser;
- the [backend] extra is enough to run an instance (nothing of the terminal's UI is imported).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from backend_stub.app import create_service_app
from backend_stub.faults import FaultMiddleware, FaultSpec
from backend_stub.metrics import MetricsRegistry, instrument, prometheus_text
from backend_stub.monitoring import TARGET_LABELS
from backend_stub.processes import loopback_listener
from backend_stub.promql import Aggregate, Binary, Call, Node, Selector, parse
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store

Samples = dict[str, list[dict[str, Any]]]


def samples(text: str) -> Samples:
    """Sample name -> [{labels..., "value": v}] as prometheus_client's parser reads them."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append({**s.labels, "value": s.value})
    return out


def queried() -> Iterator[tuple[str, Node]]:
    """Every query deploy/k8s and the emulator's plans run."""
    files = [*Path("deploy/k8s").glob("*.yaml"), *Path("config/rollouts").glob("*.yaml")]
    for f in files:
        for d in yaml.safe_load_all(f.read_text()):
            if not d:
                continue
            if d["kind"] == "AnalysisTemplate":
                for m in d["spec"]["metrics"]:
                    text = m["provider"]["prometheus"]["query"].replace("{{args.canary-hash}}", "x")
                    yield f"{f} {m['name']}", parse(text)
            if d["kind"] == "ScaledObject":
                for t in d["spec"]["triggers"]:
                    yield f"{f} scaler", parse(t["metadata"]["query"])


def selectors(node: Node) -> Iterator[Selector]:
    if isinstance(node, Selector):
        yield node
    elif isinstance(node, Call):
        for a in node.args:
            yield from selectors(a)
    elif isinstance(node, Aggregate):
        yield from selectors(node.expr)
    elif isinstance(node, Binary):
        yield from selectors(node.left)
        yield from selectors(node.right)


def grouping_labels(node: Node) -> Iterator[str]:
    if isinstance(node, Aggregate):
        yield from node.by or ()
        yield from grouping_labels(node.expr)
    elif isinstance(node, Call):
        for a in node.args:
            yield from grouping_labels(a)
    elif isinstance(node, Binary):
        yield from grouping_labels(node.left)
        yield from grouping_labels(node.right)


def free_port() -> int:
    sock = loopback_listener(0)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the instance exited"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not come up")


def start_instance(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    cmd = [sys.executable, "-m", "backend_stub.instance", "--service", "payments", "--build", "1.4.0"]
    cmd += ["--port", str(port), "--run-dir", str(tmp_path), *args]
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, proc)
    except BaseException:
        stop(proc)
        raise
    return url, proc


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode(errors="replace")


def test_every_metric_the_analyses_and_the_scaler_query_is_exported_by_an_instance(tmp_path: Path) -> None:
    url, proc = start_instance(tmp_path)
    try:
        for _ in range(7):
            assert httpx.get(url + "/payments/v1/payments/none", timeout=5).status_code == 401
        exported = samples(httpx.get(url + "/metrics", timeout=5).text)
    finally:
        stop(proc)
    queries = list(queried())
    assert len(queries) >= 10  # 2 templates x 2 metrics x (deploy/k8s + config/rollouts) + 2 scalers
    for where, q in queries:
        for sel in selectors(q):
            assert sel.name in exported, f"{where}: {sel.name} is not exported"
            have = set().union(*(s.keys() for s in exported[sel.name])) | set(TARGET_LABELS)
            for m in sel.matchers:
                assert m.label in have, f"{where}: {sel.name} has no label {m.label}"
                if m.op == "=" and m.label not in TARGET_LABELS and m.label != "service":
                    values = {s[m.label] for s in exported[sel.name]}
                    assert m.value in values, f"{where}: {sel.name}{{{m.label}}} never {m.value!r}"
            for label in grouping_labels(q):
                assert label in have, f"{where}: no label {label} to group {sel.name} by"
    # and the values are the instance's own: 7 answered 4xx, the probes not counted
    by_code = {s["code"]: s["value"] for s in exported["cryptopos_requests_total"]}
    assert by_code == {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 7, "5xx": 0}
    assert {s["service"] for s in exported["cryptopos_requests_total"]} == {"payments"}
    (count,) = exported["cryptopos_request_duration_seconds_count"]
    assert count["value"] == 7 and count["build"] == "1.4.0"


async def test_an_instance_counts_its_injected_faults_and_latency_but_not_its_probes() -> None:
    store = Store.temporary()
    try:
        app = create_service_app("payments", store=store, settings=ServiceSettings(), build="1.5.1-bad")
        faulty = FaultMiddleware(
            app, FaultSpec(error_rate=0.25, latency_ms=30), clock=time.monotonic, on_crash=lambda: None
        )
        inst = instrument(faulty, service="payments", build="1.5.1-bad")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=inst), base_url="http://i") as c:
            for _ in range(8):
                await c.get("/payments/v1/payments/none")
            for probe in ("/healthz", "/readyz"):
                assert (await c.get(probe)).status_code == 200
            r = await c.get("/metrics")
    finally:
        store.close()
    assert r.headers["content-type"].startswith("text/plain")
    exported = samples(r.text)
    by_code = {s["code"]: s["value"] for s in exported["cryptopos_requests_total"]}
    assert by_code["5xx"] == 2 and by_code["4xx"] == 6  # one in four answers was the injected 503
    (total,) = exported["cryptopos_request_duration_seconds_sum"]
    assert total["value"] >= 8 * 0.03  # the injected latency is the build's own
    buckets = {s["le"]: s["value"] for s in exported["cryptopos_request_duration_seconds_bucket"]}
    assert buckets["0.025"] == 0 and buckets["+Inf"] == 8


def test_workers_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale")  # an earlier run's file: removed at start
    url, proc = start_instance(tmp_path, "--workers", "2", env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    try:
        n = 40
        for _ in range(n):
            # a new connection each time: the kernel spreads them over the workers
            assert httpx.get(url + "/payments/v1/payments/none", timeout=5).status_code == 401
        scraped = [samples(httpx.get(url + "/metrics", timeout=5).text) for _ in range(4)]
        pids = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
    finally:
        err = stop(proc)
    assert "99999.db" not in pids and len(pids) == 2, (pids, err[-500:])  # two workers wrote samples
    for exported in scraped:  # whichever worker answered the scrape, it reports all of them
        by_code = {s["code"]: s["value"] for s in exported["cryptopos_requests_total"]}
        assert by_code["4xx"] == n
        (count,) = exported["cryptopos_request_duration_seconds_count"]
        assert count["value"] == n


def test_the_gateways_hand_written_exposition_parses_with_prometheus_clients_parser() -> None:
    reg = MetricsRegistry()
    reg.record("payments", '1.5"x', 1.0, 200, 0.003)
    reg.record("payments", '1.5"x', 1.0, 503, 0.2)
    reg.record("rates", "1.0.0", 1.0, 200, 12.0)
    text = prometheus_text(reg, now=1.0, window_s=1.0, gauges=[("cryptopos_instances", "n", {"a": "b"}, 2)])
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["cryptopos_gateway_requests"].type == "counter"
    assert families["cryptopos_gateway_request_duration_seconds"].type == "histogram"
    exported = samples(text)
    assert {(s["build"], s["code"], s["value"]) for s in exported["cryptopos_gateway_requests_total"]} == {
        ('1.5"x', "2xx", 1),
        ('1.5"x', "5xx", 1),
        ("1.0.0", "2xx", 1),
    }
    inf = [s for s in exported["cryptopos_gateway_request_duration_seconds_bucket"] if s["le"] == "+Inf"]
    assert sorted(s["value"] for s in inf) == [1, 2]
    rates = {s["build"]: s["value"] for s in exported["cryptopos_gateway_success_rate"]}
    assert rates == {'1.5"x': 0.5, "1.0.0": 1.0}
    # no family name of the gateway's is one the instances export: a Prometheus scraping both
    # would otherwise add the gateway's attempts to the instances' answers
    assert not {"cryptopos_requests", "cryptopos_request_duration_seconds"} & set(families)


BLOCKER = r"""
import importlib.abc, importlib.metadata as md, sys
from packaging.requirements import Requirement

def closure(reqs):
    seen, todo = set(), [(r.name, tuple(r.extras)) for r in reqs]
    while todo:
        name, extras = todo.pop()
        key = (name.lower().replace("_", "-"), extras)
        if key in seen:
            continue
        seen.add(key)
        for line in md.requires(name) or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(e) for e in envs):
                todo.append((req.name, tuple(req.extras)))
    return {name for name, _ in seen}

# what the image installs: the project without its dependencies, then its [backend] extra
extra = [Requirement(r) for r in md.requires("cryptopos") or []]
extra = [r for r in extra if r.marker is not None and r.marker.evaluate({"extra": "backend"})]
allowed = closure(extra)
owners = md.packages_distributions()
ours = {"terminal", "backend_stub", "drivers"}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        dists = {d.lower().replace("_", "-") for d in owners.get(top, [])}
        if top in ours or not dists or dists & allowed:
            return None
        raise ImportError(f"{name} (from {sorted(dists)}) is not in the [backend] extra")

sys.meta_path.insert(0, Block())
"""

RUN_AN_INSTANCE = r"""
try:
    import textual  # the blocker itself works: the terminal's UI is not in the extra
except ImportError as exc:
    assert "not in the [backend] extra" in str(exc)
else:
    raise AssertionError("textual was importable")
import asyncio, httpx
from backend_stub import instance
args = instance.parse_args(["--service", "payments", "--build", "1.4.0", "--port", "1", "--run-dir", RUN_DIR,
                            "--discovery-services", "rates,payments"])
app = instance.instance_app(args)

async def main():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as c:
        assert (await c.get("/payments/v1/payments/x")).status_code == 401
        assert set((await c.get("/discovery")).json()["services"]) == {"rates", "payments"}
        assert "cryptopos_requests_total" in (await c.get("/metrics")).text

asyncio.run(main())
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"textual", "qrcode", "nfc", "cv2", "pyzbar", "zxingcpp", "numpy"})
print("loaded:", loaded)
"""


def test_the_backend_extra_is_enough_to_run_an_instance(tmp_path: Path) -> None:
    code = BLOCKER + f"RUN_DIR = {str(tmp_path)!r}\n" + RUN_AN_INSTANCE
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "loaded: []"

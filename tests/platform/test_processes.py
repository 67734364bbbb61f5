"""Real processes: `cryptopos backend up` starts a gateway and uvicorn instances on loopback;
deploy, status, a drained abort with slow in-flight requests, and down. Bounded in time."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend_stub.store import Store
from backend_stub.store.runtime import open_store, resolve_url
from terminal.cli import main
from terminal.client import BackendClient, BackendError
from terminal.config import load_settings
from terminal.domain import signing
from terminal.domain.money import Money, asset
from tests.pg import Ledger
from tests.platform.helpers import INSTANCE_START_S

TOPOLOGY = """
time_scale = 60.0
[gateway]
per_try_timeout_s = 5.0
drain_timeout_s = 8.0
[autoscale]
scale_down_stabilization_s = 3000.0
[limits]
rate_per_key = 100000.0  # one terminal key plays a whole shop here
burst_per_key = 100000
[refunds]  # passed on to every instance process
window_days = 9
approval_above = { EUR = "1.00" }
daily_limit = { EUR = "5.00" }
timezone = "Asia/Tokyo"
[services.rates]
stable = "1.0.0"
replicas = 1
[services.rates.builds."1.0.0"]
[services.payments]
stable = "1.4.0"
replicas = 2
[services.payments.builds."1.4.0"]
[services.payments.builds."1.5.0"]
"""

PLAN = """
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: payments}
spec:
  strategy:
    canary:
      abortScaleDownDelaySeconds: 30
      steps: [{setWeight: 50}, {pause: {}}]
"""


def terminal_key() -> tuple[str, bytes]:
    """The key `backend up` trusts: the terminal's configured one."""
    settings = load_settings(file=Path("config/terminal.toml")).settings
    return settings.signing.key_id, settings.signing.secret.get_secret_value().encode()


def signed(path: str) -> dict[str, str]:
    key_id, secret = terminal_key()
    ts, nonce = int(time.time()), secrets.token_hex(12)
    return signing.signature_headers(
        key_id=key_id, secret=secret, method="GET", path=path, timestamp=ts, nonce=nonce, body=b""
    )


async def pay_through(gateway: str, prefix: str, n: int, *, key: tuple[str, bytes] | None = None) -> None:
    key_id, secret = key or terminal_key()
    async with BackendClient(base_url=gateway, key_id=key_id, secret=secret) as c:
        for i in range(n):
            q = await c.quote(Money.parse("3.50", "EUR"), asset("BTC"))
            p = await c.create_payment(
                quote=q, reference=f"{prefix}-{i}", payload="tap", idempotency_key=f"{prefix}{i}"
            )
            assert p.status == "approved"


async def post_signed(http: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> httpx.Response:
    key_id, secret = terminal_key()
    content = json.dumps(body).encode()
    headers = signing.signature_headers(
        key_id=key_id,
        secret=secret,
        method="POST",
        path=path,
        timestamp=int(time.time()),
        nonce=secrets.token_hex(12),
        body=content,
    )
    headers |= {"Content-Type": "application/json", "Idempotency-Key": key}
    return await http.post(path, content=content, headers=headers)


async def refunds_through(gateway: str, manager: str, pin: str) -> list[httpx.Response]:
    """Two sales of 3.50 EUR, each refunded in full: without an approval, with one, and the
    second one beyond the daily limit of 5.00 EUR."""
    to = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    out = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        for n in range(2):
            quote = {"fiat_minor": 350, "fiat_currency": "EUR", "asset": "BTC"}
            q = (await post_signed(http, "/rates/v2/quotes", quote, f"q-rf{n}")).json()
            sale = {
                "quote_id": q["quote_id"],
                "reference": f"rf-{n}",
                "asset": "BTC",
                "amount_minor": q["crypto_minor"],
                "payload": "tap",
            }
            paid = (await post_signed(http, "/payments/v2/payments", sale, f"p-rf{n}")).json()
            path = f"/payments/v2/payments/{paid['payment_id']}/refunds"
            body = {"amount_minor": paid["amount_minor"], "to": to}
            if n == 0:
                out.append(await post_signed(http, path, body, f"r-rf{n}"))
            approval = {"staff_id": manager, "pin": pin}
            out.append(await post_signed(http, path, {**body, "approval": approval}, f"r-rf{n}"))
    return out


async def heartbeat_through(gateway: str, beat: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        return await post_signed(http, "/payments/v2/terminals/heartbeat", beat, "hb-1")


def canary_weight(base: list[str], capsys: pytest.CaptureFixture[str]) -> int:
    assert main([*base, "status", "--json"]) == 0
    builds = json.loads(capsys.readouterr().out)["services"]["payments"]["builds"]
    return int(builds.get("1.5.0", {}).get("weight", 0))


def ledger_of(run_dir: Path) -> Store:
    """The ledger the backend in ``run_dir`` uses (the URL it recorded, its master key)."""
    return open_store(run_dir, resolve_url(run_dir))


async def pay_with_retry(gateway: str, prefix: str, key: tuple[str, bytes]) -> None:
    """A new key reaches every instance within its key cache time (2 s): try for up to 6 s."""
    deadline = time.monotonic() + 6
    while True:
        try:
            await pay_through(gateway, prefix, 1, key=key)
            return
        except BackendError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
            prefix += "+"


@pytest.fixture
def backend(tmp_path: Path, capsys: pytest.CaptureFixture[str], ledger_spec: Ledger):  # type: ignore[no-untyped-def]
    """``backend up`` on each ledger: the default SQLite file in the run directory, or
    ``--store postgresql://...``."""
    (tmp_path / "backend.toml").write_text(TOPOLOGY)
    (tmp_path / "plan.yaml").write_text(PLAN)
    run_dir = tmp_path / "run"
    base = ["backend", "--run-dir", str(run_dir)]
    store = [] if ledger_spec.kind == "sqlite" else ["--store", ledger_spec.url]
    if store:  # a server's master key comes from outside the database: here the run directory's
        run_dir.mkdir()
        (run_dir / "master.key").write_bytes(ledger_spec.key.read_bytes())
        (run_dir / "master.key").chmod(0o600)
    code = main([*base, "up", "--topology", str(tmp_path / "backend.toml"), "--json", *store])
    out = capsys.readouterr().out
    try:
        assert code == 0, out
        info = json.loads(out)
        yield base, run_dir, info
    finally:
        main([*base, "down"])
        capsys.readouterr()


def test_up_status_deploy_drained_abort_and_down(
    backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    base, run_dir, info = backend
    gateway = info["gateway"]
    assert gateway.startswith("http://127.0.0.1:")
    urls = [i["url"] for s in info["services"].values() for i in s["instances"]]
    assert len(urls) == 3 and all(u.startswith("http://127.0.0.1:") for u in urls)
    assert oct((run_dir / "control-token").stat().st_mode & 0o777) == "0o600"

    # an instance answers directly, and through the gateway; an unsigned request is refused at
    # the edge (no instance saw it), a signed one reaches the app
    assert httpx.get(urls[0] + "/healthz", timeout=30).status_code == 200  # may still be starting
    none = "/payments/v1/payments/none"
    r = httpx.get(gateway + none, timeout=5)
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthenticated")
    assert "x-cp-build" not in r.headers
    # (held by the gateway until an instance is ready: a busy machine may take seconds)
    r = httpx.get(gateway + none, headers=signed(none), timeout=30)
    assert r.status_code == 404 and r.headers["x-cp-build"] == "1.4.0"
    # the gateway reads the terminals' keys from the ledger (the till's key went there from
    # keys.json): a forged signature on a real key id stops at the edge too, once it has them
    key_id, _ = terminal_key()
    forged = signing.signature_headers(
        key_id=key_id,
        secret=b"not-the-secret",
        method="GET",
        path=none,
        timestamp=int(time.time()),
        nonce=secrets.token_hex(12),
        body=b"",
    )
    deadline = time.monotonic() + 15
    while "x-cp-build" in (r := httpx.get(gateway + none, headers=forged, timeout=10)).headers:
        assert r.status_code == 401  # an instance refused it: the gateway has no keys yet
        assert time.monotonic() < deadline, "the gateway never got the ledger's keys"
        time.sleep(0.2)
    assert r.status_code == 401 and r.json()["type"].endswith("/bad-signature")

    # payments through the gateway: rates and payments instances are separate processes that
    # share the ledger in the run directory
    asyncio.run(pay_through(gateway, "before", 6))

    # a canary whose every answer takes 1.5 s, at 50%
    code = main(
        [
            *base,
            "deploy",
            "payments",
            "1.5.0",
            "--plan",
            str(tmp_path / "plan.yaml"),
            "--fault",
            "latency_ms=1500",
        ]
    )
    assert code == 0, capsys.readouterr()
    assert "rolling out 1.5.0" in capsys.readouterr().out
    # the canary takes traffic once its instance is ready (deploy does not wait for that)
    deadline = time.monotonic() + INSTANCE_START_S
    while canary_weight(base, capsys) != 50:
        assert time.monotonic() < deadline, "the canary never got its 50%"
        time.sleep(0.2)

    async def slow_requests_during_abort() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway, timeout=20) as c:
            tasks = [asyncio.ensure_future(c.get(none, headers=signed(none))) for _ in range(16)]
            await asyncio.sleep(0.5)  # now some are in flight on the slow canary
            assert await asyncio.to_thread(main, [*base, "abort", "payments"]) == 0
            return await asyncio.gather(*tasks)

    results = asyncio.run(slow_requests_during_abort())
    assert "Degraded" in capsys.readouterr().out
    builds = [r.headers.get("x-cp-build") for r in results]
    assert [r.status_code for r in results] == [404] * 16  # answered by the app, none lost
    assert "1.5.0" in builds and "1.4.0" in builds

    asyncio.run(pay_through(gateway, "after", 4))
    ledger = ledger_of(run_dir)
    refs = [r["reference"] for r in ledger.fetch_all("SELECT reference FROM payments")]
    ledger.close()
    assert sorted(refs) == sorted([f"before-{i}" for i in range(6)] + [f"after-{i}" for i in range(4)])

    # a terminal added now pays through the instances already running (no restart)
    new_secret = "till-new-secret-0123456789"
    assert main([*base, "terminal", "add", "till-new", "--secret", new_secret]) == 0
    assert "added terminal till-new" in capsys.readouterr().out
    asyncio.run(pay_with_retry(gateway, "new", ("till-new", new_secret.encode())))
    # rotated: the old secret works during its grace, and not after it
    assert main([*base, "terminal", "rotate", "till-new", "--grace", "3s"]) == 0
    rotated = capsys.readouterr().out
    assert "rotated terminal till-new" in rotated and new_secret not in rotated
    asyncio.run(pay_through(gateway, "grace", 1, key=("till-new", new_secret.encode())))
    time.sleep(3.5)
    with pytest.raises(BackendError):
        asyncio.run(pay_through(gateway, "late", 1, key=("till-new", new_secret.encode())))
    assert main([*base, "terminal", "list"]) == 0
    listed = capsys.readouterr().out
    assert "till-new" in listed and "key v2" in listed and new_secret not in listed

    # a manager added now approves refunds on the instances already running; the instances hold
    # refunds to the topology's [refunds] (approval above 1.00 EUR, 5.00 EUR a day)
    pin_file = tmp_path / "manager.pin"
    pin_file.write_text("4826\n")
    pin_file.chmod(0o600)
    assert main([*base, "staff", "add", "Max Manager", "--id", "s_max", "--pin-file", str(pin_file)]) == 0
    added = capsys.readouterr()
    assert added.out.strip() == "s_max" and "4826" not in added.out + added.err
    without, approved, over = asyncio.run(refunds_through(gateway, "s_max", "4826"))
    assert (without.status_code, without.json()["type"].rsplit("/", 1)[-1]) == (403, "approval-required")
    assert without.json()["threshold_minor"] == 100
    assert approved.status_code == 201 and approved.json()["approved_by"] == "s_max", approved.text
    assert (over.status_code, over.json()["type"].rsplit("/", 1)[-1]) == (409, "refund-limit-reached")
    assert main([*base, "staff", "list"]) == 0
    listed = capsys.readouterr().out
    assert "s_max" in listed and "manager" in listed and "4826" not in listed

    # a till's heartbeat through the gateway lands in the ledger; status lists the fleet from it
    beat = {
        "version": "0.1.0",
        "readers": [{"device": "nfc:usb", "state": "disconnected"}],
        "queue_depth": 2,
        "unknown_outcomes": 1,
    }
    r = asyncio.run(heartbeat_through(gateway, beat))
    assert r.status_code == 202, r.text
    key_id = terminal_key()[0]

    assert main([*base, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    [till] = status["fleet"]
    assert (till["key_id"], till["queue_depth"], till["unknown_outcomes"]) == (key_id, 2, 1)
    assert (
        till["readers"] == [{"device": "nfc:usb", "state": "disconnected"}]
        and till["last_reconcile_at"] is None
    )
    assert status["refunds"] == {
        "window_days": 9,
        "approval_above": {"EUR": "1.00"},
        "daily_limit": {"EUR": "5.00"},
        "timezone": "Asia/Tokyo",
    }
    pay = status["services"]["payments"]
    assert pay["rollout"]["phase"] == "Degraded"
    assert pay["builds"]["1.4.0"]["weight"] == 100

    assert main([*base, "status"]) == 0
    human = capsys.readouterr().out
    assert "payments: 2 replica(s)" in human and "Degraded" in human
    # the edge's limits (here from the test's [limits]) and what it refused: the unsigned request
    assert "limits: 100000 req/s per terminal key (bursts of 100000), bodies up to 65536 B" in human
    assert "each instance: 16 at work, 64 queued, 1024 long-polls held" in human
    assert "refunds: within 9 days of the payment; a manager's approval above 1.00 EUR" in human
    assert "daily limit per terminal: 5.00 EUR (days in Asia/Tokyo)" in human
    assert "fleet: 1 terminal(s) reporting" in human
    fleet_line = next(line for line in human.splitlines() if line.strip().startswith(key_id))
    assert (
        "queue 2" in fleet_line
        and "unknown 1" in fleet_line
        and "readers: nfc:usb disconnected" in fleet_line
    )
    # at least the unsigned and the forged request; also the new terminal's first tries and the
    # expired secret when the gateway's copy of the keys (read every 2 s) was ahead of them
    refused = re.search(r"refused: 0 malformed, (\d+) unauthenticated", human)
    assert refused is not None and int(refused.group(1)) >= 2, human
    assert status["limits"]["max_body_bytes"] == 65536

    # down: every process goes, the ports stop answering
    pid = info["pid"]
    assert main([*base, "down"]) == 0
    assert "stopped" in capsys.readouterr().out
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    for url in [gateway, *urls]:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=2)


def test_usage_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["backend", "--run-dir", str(tmp_path / "none")]
    assert main([*base, "status"]) == 2
    assert "no backend is running" in capsys.readouterr().err
    assert main([*base, "up", "--topology", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and f"looked for {tmp_path / 'missing.toml'}" in err
    assert "--topology PATH" in err and "CRYPTOPOS_BACKEND_TOPOLOGY" in err
    assert main([*base, "down"]) == 0


def test_a_busy_gateway_port_is_a_clear_error_and_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    (tmp_path / "backend.toml").write_text(TOPOLOGY)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        base = ["backend", "--run-dir", str(tmp_path / "run")]
        code = main([*base, "up", "--topology", str(tmp_path / "backend.toml"), "--port", str(port)])
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err
    assert not list((tmp_path / "run" / "logs").glob("*.log"))  # no instance was started


@pytest.mark.slow
def test_bad_canary_over_real_processes_is_aborted_with_no_failed_payment(
    backend,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, run_dir, info = backend
    (tmp_path / "bad.yaml").write_text(
        "kind: Rollout\nmetadata: {name: payments}\nspec:\n  strategy:\n    canary:\n"
        "      analysis: {templates: [{templateName: t}], args: [{name: c, valueFrom: {podTemplateHashValue: Latest}}]}\n"
        "      steps: [{setWeight: 50}, {pause: {duration: 10m}}]\n---\n"
        "kind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics:\n"
        "    - {name: sr, interval: 10s, failureLimit: 1,\n"
        "       successCondition: 'len(result) == 0 || isNaN(result[0]) || result[0] >= 0.95',\n"
        '       provider: {prometheus: {query: \'sum(rate(cryptopos_requests_total{rollouts_pod_template_hash="{{args.c}}",code!="5xx"}[1m]))'
        ' / sum(rate(cryptopos_requests_total{rollouts_pod_template_hash="{{args.c}}"}[1m]))\'}}}\n'
    )
    plan = str(tmp_path / "bad.yaml")
    assert main([*base, "deploy", "payments", "1.5.0", "--plan", plan, "--fault", "error_rate=0.2"]) == 0

    async def load() -> tuple[int, list[str]]:
        settings = load_settings(file=Path("config/terminal.toml")).settings
        secret = settings.signing.secret.get_secret_value().encode()
        ok, failed = 0, []
        async with BackendClient(
            base_url=info["gateway"], key_id=settings.signing.key_id, secret=secret
        ) as c:

            async def one(i: int) -> None:
                nonlocal ok
                try:
                    q = await c.quote(Money.parse("2.00", "EUR"), asset("BTC"))
                    await c.create_payment(
                        quote=q, reference=f"bad-{i}", payload="tap", idempotency_key=f"b{i}"
                    )
                    ok += 1
                except Exception as exc:
                    failed.append(repr(exc))

            tasks = []
            for i in range(200):
                tasks.append(asyncio.ensure_future(one(i)))
                await asyncio.sleep(0.02)
            await asyncio.gather(*tasks)
        return ok, failed

    ok, failed = asyncio.run(load())
    capsys.readouterr()
    assert main([*base, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)["services"]["payments"]
    assert status["rollout"]["phase"] == "Degraded"
    assert status["rollout"]["analysis"][0]["failed"] == 2
    assert failed == [] and ok == 200
    ledger = ledger_of(run_dir)
    try:
        assert ledger.count("payments") == 200
    finally:
        ledger.close()

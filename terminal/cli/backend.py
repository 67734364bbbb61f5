"""``cryptopos backend up|deploy|promote|abort|status|down|terminal|staff|pg``: the emulated backend
as real processes on loopback (a gateway and uvicorn instances), with canary rollouts; its terminal
keys; its managers; a local PostgreSQL to try it on.

``up`` starts the supervisor (``python -m backend_stub.supervisor``, detached) and waits
until it listens; its state lives in a run directory (``--run-dir``, default
``.cryptopos/backend``) so later commands find the gateway and the control token. The
terminal talks to it with ``--backend URL`` or ``CRYPTOPOS_BACKEND__URL``. This module only
starts a process and speaks HTTP: it does not import ``backend_stub`` (the layering rule);
``terminal``, ``staff`` and ``pg`` run ``python -m backend_stub.admin``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from terminal.cli.common import EXIT_FAILED, EXIT_OK, PARENT, CliError, load
from terminal.cli.progress import Progress

DEFAULT_RUN_DIR = Path(".cryptopos/backend")
DEFAULT_TOPOLOGY = "config/backend.toml"
UP_TIMEOUT_S = 30.0
DOWN_TIMEOUT_S = 30.0


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--run-dir",
        default=os.environ.get("CRYPTOPOS_BACKEND_RUN_DIR", str(DEFAULT_RUN_DIR)),
        help="where the running backend keeps its state (default: .cryptopos/backend)",
    )
    # also accepted after the action (`cryptopos backend status --run-dir DIR`)
    run_dir = argparse.ArgumentParser(add_help=False)
    run_dir.add_argument(
        "--run-dir", default=argparse.SUPPRESS, help="where the running backend keeps its state"
    )
    bsub = p.add_subparsers(dest="backend_command", metavar="ACTION", required=True)
    up = bsub.add_parser(
        "up", parents=[PARENT, run_dir], help="start the gateway and the instances on loopback"
    )
    up.add_argument(
        "--topology",
        default=os.environ.get("CRYPTOPOS_BACKEND_TOPOLOGY", DEFAULT_TOPOLOGY),
        help=f"services and builds, TOML (default: {DEFAULT_TOPOLOGY} in the current folder, "
        "or CRYPTOPOS_BACKEND_TOPOLOGY); its rollout plans are read relative to its folder",
    )
    up.add_argument("--port", type=int, default=0, help="gateway port (default: any free one)")
    up.add_argument(
        "--store",
        help="the ledger: sqlite:///PATH or postgresql://... (default: [store] url of the topology)",
    )
    up.add_argument("--json", action="store_true")
    up.set_defaults(func=up_cmd)
    dep = bsub.add_parser("deploy", parents=[run_dir], help="start a canary rollout of BUILD of SERVICE")
    dep.add_argument("service")
    dep.add_argument("build")
    dep.add_argument("--plan", help="Argo Rollout YAML (default: the service's plan in the topology)")
    dep.add_argument(
        "--fault",
        action="append",
        default=[],
        help="inject faults into the new build, e.g. error_rate=0.2 or latency_ms=300,crash_on=50",
    )
    dep.set_defaults(func=deploy_cmd)
    pro = bsub.add_parser(
        "promote", parents=[run_dir], help="resume a paused rollout (--full: skip every remaining step)"
    )
    pro.add_argument("service")
    pro.add_argument("--full", action="store_true")
    pro.set_defaults(func=promote_cmd)
    ab = bsub.add_parser("abort", parents=[run_dir], help="abort a rollout: canary weight back to 0")
    ab.add_argument("service")
    ab.set_defaults(func=abort_cmd)
    st = bsub.add_parser(
        "status", parents=[run_dir], help="builds, weights, instances, success rate, p99, rollout, autoscaler"
    )
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=status_cmd)
    down = bsub.add_parser("down", parents=[run_dir], help="drain and stop everything")
    down.set_defaults(func=down_cmd)
    term = bsub.add_parser(
        "terminal", parents=[run_dir], help="add, rotate, revoke or list terminal keys (no restart needed)"
    )
    term.add_argument("--store", help="the ledger URL (default: the one the backend in --run-dir uses)")
    tsub = term.add_subparsers(dest="terminal_action", metavar="ACTION", required=True)
    t_add = tsub.add_parser("add", help="a new terminal; prints its secret once")
    t_add.add_argument("key_id")
    t_add.add_argument("--note", default="")
    t_add.add_argument("--secret", help="use this secret (the till's signing.secret), not a random one")
    t_rot = tsub.add_parser("rotate", help="a new secret; the old one works for --grace more")
    t_rot.add_argument("key_id")
    t_rot.add_argument("--grace", default="24h", help="e.g. 90s, 15m, 24h, 7d (default 24h)")
    t_rot.add_argument("--secret")
    t_rev = tsub.add_parser("revoke", help="every secret of the terminal stops working")
    t_rev.add_argument("key_id")
    t_ls = tsub.add_parser("list", help="terminals, their key versions and expiry (no secrets)")
    t_ls.add_argument("--json", action="store_true")
    term.set_defaults(func=terminal_cmd)
    staff = bsub.add_parser(
        "staff", parents=[run_dir], help="add, list, disable managers or reset their PINs (no restart needed)"
    )
    staff.add_argument("--store", help="the ledger URL (default: the one the backend in --run-dir uses)")
    ssub = staff.add_subparsers(dest="staff_action", metavar="ACTION", required=True)
    s_add = ssub.add_parser(
        "add", help="a new member; prints their id (a manager's PIN: getpass or --pin-file)"
    )
    s_add.add_argument("name")
    s_add.add_argument("--role", choices=("manager", "cashier"), default="manager")
    s_add.add_argument("--id", dest="staff_id", help="the staff id (default: s_ and 10 random characters)")
    s_add.add_argument("--pin-file", help="a file holding the PIN, mode 600 (default: asked on the terminal)")
    s_ls = ssub.add_parser("list", help="members, roles, disabled and locked-out ones (never a PIN)")
    s_ls.add_argument("--json", action="store_true")
    s_dis = ssub.add_parser("disable", help="their PIN approves nothing from now on")
    s_dis.add_argument("staff_id")
    s_pin = ssub.add_parser("reset-pin", help="a new PIN (getpass or --pin-file); clears a lockout")
    s_pin.add_argument("staff_id")
    s_pin.add_argument("--pin-file", help="a file holding the PIN, mode 600")
    staff.set_defaults(func=staff_cmd)
    pg = bsub.add_parser("pg", help="start a local PostgreSQL for trials (pgserver) and print its URL")
    pg.add_argument("--dir", default=".cryptopos/pg", help="its data folder (default .cryptopos/pg)")
    pg.add_argument("--stop", action="store_true", help="stop it")
    pg.set_defaults(func=pg_cmd)


# -- run directory ---------------------------------------------------------------------


def _run_dir(args: argparse.Namespace) -> Path:
    return Path(args.run_dir).resolve()


def _state(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not _alive(int(data.get("pid", 0))):
        return None
    return data


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:  # our own child that exited is a zombie until reaped
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    run_dir = _run_dir(args)
    state = _state(run_dir)
    if state is None:
        raise CliError(f"no backend is running in {run_dir}; start one with: cryptopos backend up")
    return run_dir, state


def _call(
    run_dir: Path, state: dict[str, Any], method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    import httpx

    headers = {}
    if method != "GET":
        headers["X-Cp-Control-Token"] = (run_dir / "control-token").read_text(encoding="utf-8").strip()
    try:
        resp = httpx.request(
            method,
            state["gateway"] + path,
            json=body,
            headers=headers,
            timeout=httpx.Timeout(30.0, connect=2.0),
        )
    except httpx.HTTPError as exc:
        raise CliError(f"the backend at {state['gateway']} does not answer: {exc}", EXIT_FAILED) from None
    try:
        data = resp.json()
    except ValueError:
        raise CliError(f"the backend answered HTTP {resp.status_code} without JSON", EXIT_FAILED) from None
    if resp.status_code >= 400:
        detail = data.get("detail") or data.get("title") if isinstance(data, dict) else data
        raise CliError(str(detail), 2 if resp.status_code in (404, 409, 422) else EXIT_FAILED)
    return data


# -- commands --------------------------------------------------------------------------


def up_cmd(args: argparse.Namespace) -> int:
    run_dir = _run_dir(args)
    existing = _state(run_dir)
    if existing is not None:
        raise CliError(
            f"a backend already runs in {run_dir} at {existing['gateway']}; "
            "stop it with: cryptopos backend down"
        )
    topology = Path(args.topology)
    if not topology.is_file():
        raise CliError(
            f"{topology}: file not found (looked for {topology.resolve()}). "
            f"The example topology is {DEFAULT_TOPOLOGY} in the cryptopos repository: run this from "
            "the repository's root, or point at a topology with --topology PATH or "
            "CRYPTOPOS_BACKEND_TOPOLOGY=PATH"
        )
    settings = load(args).settings
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "state.json").unlink(missing_ok=True)
    keys = {settings.signing.key_id: settings.signing.secret.get_secret_value().encode().hex()}
    fd = os.open(run_dir / "keys.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys, f)
    env = dict(os.environ)
    if args.store:
        env["CRYPTOPOS_STORE_URL"] = args.store  # not argv: ps shows argv to everyone
    cmd = [
        sys.executable,
        "-m",
        "backend_stub.supervisor",
        "--run-dir",
        str(run_dir),
        "--topology",
        str(topology.resolve()),
        "--port",
        str(args.port),
    ]
    log = str(run_dir / "supervisor.log")
    # posix_spawn in a new session: the supervisor outlives this command (no Popen to reap)
    pid = os.posix_spawn(
        sys.executable,
        cmd,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    deadline = time.monotonic() + UP_TIMEOUT_S
    state = None
    progress = Progress("starting the backend: instances started")
    try:
        while time.monotonic() < deadline:
            state = _state(run_dir)
            if state is not None:
                break
            if not _alive(pid):
                tail = Path(log).read_text(encoding="utf-8", errors="replace")[-800:]
                raise CliError(f"the backend did not start:\n{tail.strip()}")
            starting = _starting(run_dir)
            if starting is not None:
                started, ready, total = starting
                progress.step(started, total, f"{ready} ready")
            time.sleep(0.1)
    finally:
        progress.close()
    if state is None:
        os.kill(pid, signal.SIGTERM)
        raise CliError(f"the backend did not come up within {UP_TIMEOUT_S:g} s; see {log}")
    status = _call(run_dir, state, "GET", "/_platform/status")
    if args.json:
        print(
            json.dumps({"gateway": state["gateway"], "pid": state["pid"], "run_dir": str(run_dir), **status})
        )
        return EXIT_OK
    print(f"gateway   {state['gateway']}   (pid {state['pid']}, run dir {run_dir})")
    print(f"ledger    {state.get('store', '?')}")
    for name, svc in status["services"].items():
        for inst in svc["instances"]:
            print(f"  {name:<9} {inst['build']:<12} {inst['url']:<24} {inst['state']}")
    print(f"use it:   cryptopos pay --backend {state['gateway']} --amount 12.50")
    return EXIT_OK


def _starting(run_dir: Path) -> tuple[int, int, int] | None:
    """(started, ready, wanted) instances while the supervisor starts them (its starting.json)."""
    try:
        doc = json.loads((run_dir / "starting.json").read_text(encoding="utf-8"))
        started, ready, total = int(doc["started"]), int(doc["ready"]), int(doc["total"])
    except (OSError, ValueError, KeyError, TypeError):  # not there yet, or being rewritten
        return None
    return (started, ready, total) if total > 0 else None


def deploy_cmd(args: argparse.Namespace) -> int:
    run_dir, state = _running(args)
    body: dict[str, Any] = {"service": args.service, "build": args.build, "faults": args.fault}
    if args.plan:
        plan = Path(args.plan)
        if not plan.is_file():
            raise CliError(f"{plan}: file not found")
        body["plan"] = str(plan.resolve())
    ro = _call(run_dir, state, "POST", "/_platform/deploy", body)
    print(
        f"{ro['service']}: rolling out {ro['canary']} over {ro['stable_before']} "
        f"({ro['steps']} steps), {ro['phase']}"
    )
    return EXIT_OK


def promote_cmd(args: argparse.Namespace) -> int:
    run_dir, state = _running(args)
    ro = _call(run_dir, state, "POST", "/_platform/promote", {"service": args.service, "full": args.full})
    print(f"{ro['service']}: {ro['phase']} at step {ro['step']}/{ro['steps']} {ro['message']}".rstrip())
    return EXIT_OK


def abort_cmd(args: argparse.Namespace) -> int:
    run_dir, state = _running(args)
    ro = _call(run_dir, state, "POST", "/_platform/abort", {"service": args.service})
    print(f"{ro['service']}: {ro['phase']}: {ro['message']}")
    return EXIT_OK


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "-"
    return f"{v * 100:.1f}%" if unit == "%" else f"{v:.1f}{unit}"


def status_cmd(args: argparse.Namespace) -> int:
    run_dir, state = _running(args)
    status = _call(run_dir, state, "GET", "/_platform/status")
    if args.json:
        print(json.dumps({"gateway": state["gateway"], **status, "fleet": _fleet_json(run_dir)}, indent=2))
        return EXIT_OK
    print(f"gateway {state['gateway']}  (time scale: {status['time_scale']:g} plan s per s)")
    for line in _edge_lines(status):
        print(line)
    for name, svc in status["services"].items():
        print(f"\n{name}: {svc['replicas']} replica(s)")
        for build, b in svc["builds"].items():
            m = b["metrics"]
            print(
                f"  {build:<12} {b['role']:<8} weight {b['weight']:>3}%  "
                f"{m['rate_per_s']:.1f} req/s  success {_fmt(m['success_rate'], '%')}  "
                f"p99 {_fmt(m['p99_ms'], ' ms')}  faults: {b['faults']}"
            )
        for inst in svc["instances"]:
            print(f"    {inst['id']:<24} {inst['url']:<24} {inst['state']:<9} in flight {inst['in_flight']}")
        ro = svc["rollout"]
        if ro:
            print(
                f"  rollout {ro['stable_before']} -> {ro['canary']}: {ro['phase']}, "
                f"step {ro['step']}/{ro['steps']} {ro['message']}"
            )
            for a in ro["analysis"]:
                last = a["last"][-1] if a.get("last") else None
                seen = f"; last {last['value'] or '-'} {last['phase']}" if last else ""
                print(
                    f"    analysis {a['metric']}: {a['phase']} ({a['failed']} failed, {a['errors']} errors"
                    f"{seen})"
                )
        a = svc["autoscaler"]
        if a:
            print(
                f"  autoscaler: {a['metric_rps_per_instance']} req/s per instance -> "
                f"{a['recommended']} recommended, {a['desired']} desired ({a['reason']})"
            )
    # the fleet is in the ledger, read by the backend's own code (the till never imports it);
    # a ledger that does not answer is said on stderr, the platform's status above still holds
    _admin(["fleet", "--run-dir", str(run_dir)])
    return EXIT_OK


def _fleet_json(run_dir: Path) -> list[Any] | str:
    """The fleet for ``status --json``; the admin's error text when the ledger cannot be read."""
    cmd = [sys.executable, "-m", "backend_stub.admin", "fleet", "--run-dir", str(run_dir), "--json"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        return done.stderr.strip() or f"the fleet could not be read (exit {done.returncode})"
    rows = json.loads(done.stdout)
    return rows if isinstance(rows, list) else []


def _admin(argv: list[str], *, relay: bool = True) -> int:
    """The backend's own code does the work, in its own process (terminal/ never imports it).

    Its output is relayed through ``sys.stdout``/``sys.stderr``, where every other command
    prints (so ``main()`` called in-process, e.g. by a test, sees it). Not for ``pg``: the
    server it starts outlives it and would hold the pipes open."""
    cmd = [sys.executable, "-m", "backend_stub.admin", *argv]
    if not relay:
        return subprocess.run(cmd, check=False).returncode  # noqa: S603
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)  # noqa: S603
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def terminal_cmd(args: argparse.Namespace) -> int:
    argv = ["terminal", "--run-dir", str(_run_dir(args))]
    if args.store:
        argv += ["--store", args.store]
    argv += [args.terminal_action]
    if args.terminal_action != "list":
        argv.append(args.key_id)
    if args.terminal_action == "add" and args.note:
        argv += ["--note", args.note]
    if args.terminal_action == "rotate":
        argv += ["--grace", args.grace]
    if args.terminal_action in ("add", "rotate") and args.secret:
        argv += ["--secret", args.secret]
    if args.terminal_action == "list" and args.json:
        argv.append("--json")
    return _admin(argv)


def staff_cmd(args: argparse.Namespace) -> int:
    argv = ["staff", "--run-dir", str(_run_dir(args))]
    if args.store:
        argv += ["--store", args.store]
    argv.append(args.staff_action)
    if args.staff_action == "add":
        argv += [args.name, "--role", args.role]
        if args.staff_id:
            argv += ["--id", args.staff_id]
    elif args.staff_action in ("disable", "reset-pin"):
        argv.append(args.staff_id)
    if args.staff_action in ("add", "reset-pin") and args.pin_file:
        argv += ["--pin-file", str(Path(args.pin_file).resolve())]
    if args.staff_action == "list" and args.json:
        argv.append("--json")
    return _admin(argv)


def pg_cmd(args: argparse.Namespace) -> int:
    return _admin(["pg", "--dir", args.dir, *(["--stop"] if args.stop else [])], relay=False)


def _edge_lines(status: dict[str, Any]) -> list[str]:
    """The edge's limits (config/backend.toml ``[limits]``) and what it refused so far."""
    out = []
    lim = status.get("limits")
    if isinstance(lim, dict):
        inst = lim.get("instance") or {}
        out.append(
            f"limits: {lim['rate_per_key']:g} req/s per terminal key (bursts of {lim['burst_per_key']}), "
            f"bodies up to {lim['max_body_bytes']} B, headers up to {lim['max_header_bytes']} B, "
            f"header timeout {lim['header_timeout_s']:g} s, body timeout {lim['body_timeout_s']:g} s, "
            f"idle {lim['keep_alive_s']:g} s, up to {lim['max_connections']} connections"
        )
        if inst:
            out.append(
                f"  each instance: {inst['max_concurrency']} at work, {inst['max_queue']} queued, "
                f"{inst.get('max_held', 0)} long-polls held; "
                f"waits payments {inst['wait_payments_s']:g} s, quotes {inst['wait_quotes_s']:g} s, "
                f"polls {inst['wait_polls_s']:g} s, then shed (503)"
            )
    refunds = status.get("refunds")
    if isinstance(refunds, dict):
        out.append(_refund_line(refunds))
    stats = status.get("gateway_stats")
    if isinstance(stats, dict) and isinstance(stats.get("refused"), dict):
        r = stats["refused"]
        line = (
            f"  refused: {r.get('malformed', 0)} malformed, {r.get('unauthenticated', 0)} unauthenticated, "
            f"{r.get('rate_limited', 0)} rate-limited, {r.get('too_large', 0)} too large; "
            f"{r.get('shed', 0)} shed by instances; {stats.get('retries', 0)} retries"
        )
        server = stats.get("server")
        if isinstance(server, dict):
            line += (
                f"; connections {server.get('open_connections', 0)} open, "
                f"{server.get('refused_connections', 0)} refused, {server.get('header_timeouts', 0)} "
                f"header timeouts, {server.get('body_timeouts', 0)} body timeouts, "
                f"{server.get('bodies_too_large', 0)} bodies too large"
            )
        out.append(line)
    return out


def _refund_line(policy: dict[str, Any]) -> str:
    """The refund policy (config/backend.toml ``[refunds]``) as one line of ``backend status``."""
    above = policy.get("approval_above") or {}
    limits = policy.get("daily_limit") or {}
    approval = ", ".join(f"above {v} {c}" for c, v in above.items())
    daily = ", ".join(f"{v} {c}" for c, v in limits.items()) or "none"
    return (
        f"refunds: within {policy.get('window_days')} days of the payment; a manager's approval "
        f"{approval + ' (every refund in other currencies)' if approval else 'for every refund'}; "
        f"daily limit per terminal: {daily}"
        + (f" (days in {policy.get('timezone', 'UTC')})" if limits else "")
    )


def down_cmd(args: argparse.Namespace) -> int:
    run_dir = _run_dir(args)
    state = _state(run_dir)
    if state is None:
        print(f"no backend running in {run_dir}")
        return EXIT_OK
    pid = int(state["pid"])
    try:
        _call(run_dir, state, "POST", "/_platform/shutdown", {})
    except CliError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        raise CliError(f"the backend (pid {pid}) did not stop within {DOWN_TIMEOUT_S:g} s", EXIT_FAILED)
    print(f"stopped the backend at {state['gateway']}")
    return EXIT_OK

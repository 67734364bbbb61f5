"""``cryptopos doctor``: is this terminal ready to take payments?

Checks the configured readers (opens each once), lists the NFC readers nfcpy finds on USB, the QR
decoders that load (and whether the system's libzbar is there), and asks the backend's discovery
endpoint which API versions it serves, and asks the receipt printer for its status (paper, cover).
Each problem comes with a fix. Exit 0 when every configured reader is usable and the backend
answers, else 1 (the printer is reported, but a till takes payments without one).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from terminal.cli.common import EXIT_FAILED, EXIT_OK, load

if TYPE_CHECKING:
    from terminal.config import Settings


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reader", action="append", help="check this device instead of terminal.readers")
    p.add_argument("--backend", help="'embedded' or the backend's URL (default: backend.url)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def nfc_section() -> dict[str, Any]:
    from drivers.registry import DriverError

    try:
        from drivers.nfc import list_usb_readers

        found = list_usb_readers()
    except DriverError as exc:
        return {"ok": False, "readers": [], "detail": str(exc), "hint": "pip install 'cryptopos[nfc]'"}
    if not found:
        return {
            "ok": True,
            "readers": [],
            "detail": "no supported NFC reader on USB",
            "hint": "plug one in (Sony RC-S380, ACR122U, SCL3711, PN533); `python -m nfc` diagnoses it",
        }
    return {"ok": True, "readers": found, "detail": f"{len(found)} reader(s) on USB", "hint": ""}


def decoder_section() -> dict[str, Any]:
    import ctypes.util

    from drivers.registry import DriverError

    try:
        from drivers.camera import require_cv2
        from drivers.camera.decoders import DEFAULT_DECODER, available_decoders

        require_cv2()
    except DriverError as exc:
        return {"ok": False, "decoders": {}, "detail": str(exc), "hint": "pip install 'cryptopos[camera]'"}
    decoders = available_decoders()
    libzbar = ctypes.util.find_library("zbar")
    hint = (
        ""
        if libzbar
        else "pyzbar needs the system library: sudo apt-get install --no-install-recommends libzbar0"
    )
    return {
        "ok": decoders.get(DEFAULT_DECODER) == "ok",
        "decoders": decoders,
        "default": DEFAULT_DECODER,
        "libzbar": libzbar,
        "detail": f"default decoder {DEFAULT_DECODER}: {decoders.get(DEFAULT_DECODER)}",
        "hint": hint,
    }


async def backend_section(settings: Settings) -> dict[str, Any]:
    from terminal.client import BackendError, backend_transport, embedded_ledger
    from terminal.client.adapters import AdapterError, choose_version
    from terminal.client.factory import client_from_settings

    secret = settings.signing.secret.get_secret_value().encode()
    url = settings.backend.url
    try:
        transport = backend_transport(
            url, key_id=settings.signing.key_id, secret=secret, ledger=embedded_ledger(settings.journal.path)
        )
        # the till's own client: its api_version, retry settings and timeouts
        async with client_from_settings(settings, transport=transport) as client:
            found = await client.discover()
            pinned = settings.backend.api_version
            # what the till would negotiate (or the version it is pinned to): nothing usable fails
            choose_version(found, supported=("v2", "v1") if pinned == "auto" else (pinned,))
    except AdapterError as exc:
        return {
            "ok": False,
            "url": url,
            "detail": f"Backend API not usable: {exc}",
            "hint": "the backend's /discovery must list the rates and payments versions (v1 or v2)",
        }
    except BackendError as exc:
        return {
            "ok": False,
            "url": url,
            "detail": f"{exc.title}: {exc.message}",
            "hint": "check backend.url and that the backend is running (or use 'embedded')",
        }
    services = found["services"]  # a dict: choose_version checked it
    versions = {
        name: [
            f"{v.get('version')} ({v.get('status')})"
            for v in info.get("versions") or []
            if isinstance(v, dict)
        ]
        for name, info in services.items()
        if isinstance(info, dict) and isinstance(info.get("versions") or [], list)
    }
    return {
        "ok": True,
        "url": url,
        "versions": versions,
        "notices": found["notices"] if isinstance(found.get("notices"), list) else [],
        "deprecations": deprecation_notices(settings),
        "detail": "reachable",
        "hint": "",
    }


def printer_section(settings: Settings) -> dict[str, Any]:
    """The receipt printer: informative (a till takes payments without one), with a fix."""
    from drivers.printer import probe_printer

    probe = probe_printer(settings.printer.device, profile=settings.printer.profile)
    return {"device": probe.device, "ok": probe.ok, "detail": probe.detail, "hint": probe.hint}


def deprecation_notices(settings: Settings) -> list[dict[str, Any]]:
    """The Deprecation/Sunset headers the client met, as the journal keeps them (logged once)."""
    from terminal.journal import Journal

    if not settings.journal.path.exists():
        return []
    journal = Journal(settings.journal.path)
    try:
        return [
            {"api": n.api, "deprecation": n.deprecation, "sunset": n.sunset, "link": n.link}
            for n in journal.notices()
        ]
    finally:
        journal.close()


def run(args: argparse.Namespace) -> int:
    import asyncio

    from drivers.registry import probe_device

    loaded = load(args, {"backend.url": (args.backend, "--backend")})
    settings = loaded.settings
    devices = args.reader or list(settings.terminal.readers)
    probes = [probe_device(d) for d in devices]
    report: dict[str, Any] = {
        "readers": [{"device": p.device, "ok": p.ok, "detail": p.detail, "hint": p.hint} for p in probes],
        "nfc": nfc_section(),
        "decoders": decoder_section(),
        "backend": asyncio.run(backend_section(settings)),
        "printer": printer_section(settings),
    }
    ok = all(p.ok for p in probes) and report["backend"]["ok"]
    # a camera reader needs a decoder; the nfc/decoder sections are otherwise informative
    if any(d.startswith("camera:") for d in devices):
        ok = ok and report["decoders"]["ok"]
    report["ok"] = ok
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(human(report))
    return EXIT_OK if ok else EXIT_FAILED


def _mark(ok: bool) -> str:
    return "ok  " if ok else "FAIL"


def human(r: dict[str, Any]) -> str:
    lines = ["Configured readers:"]
    for p in r["readers"]:
        lines.append(f"  {_mark(p['ok'])} {p['device']}: {p['detail']}")
        if p["hint"] and not p["ok"]:
            lines.append(f"       fix: {p['hint']}")
    nfc = r["nfc"]
    lines.append(f"NFC readers on USB: {nfc['detail']}")
    lines += [f"       {x}" for x in nfc["readers"]]
    if nfc["hint"]:
        lines.append(f"       hint: {nfc['hint']}")
    dec = r["decoders"]
    lines.append(f"QR decoders: {dec['detail']}")
    for name, status in dec.get("decoders", {}).items():
        lines.append(f"  {_mark(status == 'ok')} {name}: {status}")
    if "libzbar" in dec:
        lines.append(f"       libzbar: {dec['libzbar'] or 'missing'}")
    if dec["hint"]:
        lines.append(f"       fix: {dec['hint']}")
    be = r["backend"]
    lines.append(f"Backend {be['url']}: {_mark(be['ok']).strip()} {be['detail']}")
    for name, versions in be.get("versions", {}).items():
        lines.append(f"       {name}: {', '.join(versions)}")
    for notice in be.get("notices", []):
        lines.append(f"       notice: {notice}")
    for d in be.get("deprecations", []):
        lines.append(
            f"       deprecated: {d['api']} (sunset {d['sunset'] or 'not set'}; successor {d['link'] or '-'})"
        )
    if be["hint"]:
        lines.append(f"       fix: {be['hint']}")
    pr = r["printer"]
    lines.append(f"Receipt printer {pr['device']}: {_mark(pr['ok']).strip()} {pr['detail']}")
    if pr["hint"] and not pr["ok"]:
        lines.append(f"       fix: {pr['hint']}")
    lines.append("Ready." if r["ok"] else "Not ready: fix the problems above.")
    return "\n".join(lines)

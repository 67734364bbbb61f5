"""API versions: discovery, and the lifecycle headers of deprecated versions.

A version with a deprecation or sunset date answers with ``Deprecation`` (RFC 9745,
``@epoch``, possibly in the future), ``Sunset`` (RFC 8594, an HTTP-date) and
``Link: <successor>; rel="successor-version"``. After its
sunset it answers every request with 410 ``version-sunset``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from email.utils import formatdate
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend_stub.problems import problem_response
from backend_stub.settings import ServiceSettings, VersionPolicy

__all__ = ["INVOICE_WAIT", "VersionHeadersMiddleware", "capabilities", "discovery_document", "version_status"]

Status = Literal["stable", "deprecated", "sunset"]
# Discovery's per-version capability flags: what a client may use beyond the version's basics.
INVOICE_WAIT = "invoice-wait"  # GET .../invoices/{id}?wait=&after= holds the request (a long-poll)


def version_status(policy: VersionPolicy, now: float) -> Status:
    if policy.sunset_at is not None and now >= policy.sunset_at:
        return "sunset"
    if policy.deprecated_at is not None and now >= policy.deprecated_at:
        return "deprecated"
    return "stable"


def _rfc3339(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def capabilities(settings: ServiceSettings, service: str, version: str) -> list[str]:
    """The capability flags of one API version of one service, as these settings serve it."""
    if (service, version) == ("payments", "v2") and settings.invoice_wait_max_s > 0:
        return [INVOICE_WAIT]
    return []


def discovery_document(
    settings: ServiceSettings, *, services: Iterable[str], notices: Iterable[str] = ()
) -> dict[str, Any]:
    """The ``GET /discovery`` body for the given services (a gateway may add notices)."""
    now = settings.clock()
    out: dict[str, Any] = {}
    for service in services:
        versions = []
        for version, policy in settings.versions.get(service, {}).items():
            entry: dict[str, Any] = {
                "version": version,
                "status": version_status(policy, now),
                "base_path": f"/{service}/{version}",
                "openapi": f"/{service}/{version}/openapi.json",
                "capabilities": capabilities(settings, service, version),
            }
            if policy.deprecated_at is not None:
                entry["deprecated_at"] = _rfc3339(policy.deprecated_at)
            if policy.sunset_at is not None:
                entry["sunset"] = _rfc3339(policy.sunset_at)
            if policy.successor:
                entry["successor"] = policy.successor
            versions.append(entry)
        out[service] = {"versions": versions}
    return {"services": out, "notices": list(notices)}


def lifecycle_headers(service: str, policy: VersionPolicy) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if policy.deprecated_at is not None:
        headers.append((b"deprecation", f"@{int(policy.deprecated_at)}".encode()))
    if policy.sunset_at is not None:
        headers.append((b"sunset", formatdate(policy.sunset_at, usegmt=True).encode()))
    if policy.successor:
        headers.append((b"link", f'</{service}/{policy.successor}>; rel="successor-version"'.encode()))
    return headers


class VersionHeadersMiddleware:
    """Wraps one version's app: lifecycle headers while deprecated, 410 after sunset."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        version: str,
        versions: Mapping[str, Mapping[str, VersionPolicy]],
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.service, self.version = service, version
        self.policy = versions.get(service, {}).get(version, VersionPolicy())
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = lifecycle_headers(self.service, self.policy)
        if not extra:
            await self.app(scope, receive, send)
            return
        # Scheduled dates are announced before they come (RFC 9745 allows a future date).
        status = version_status(self.policy, self.clock())
        if status == "sunset":
            successor = self.policy.successor
            response = problem_response(
                410,
                "version-sunset",
                "API version retired",
                f"{self.service} {self.version} was retired"
                + (f"; use /{self.service}/{successor}" if successor else ""),
                instance=scope["path"],
            )
            response.raw_headers.extend(extra)
            await response(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)

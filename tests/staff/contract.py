"""The backend's side of the staff contract (issue 15), as a small ASGI app in front of the
emulated backend, until the backend implements it itself (the staff-backend branch).

It does what the contract promises the till and no more:

* ``GET /payments/v2/staff``: the members it knows (never a PIN or a hash);
* ``POST /payments/v2/staff/verify``: a manager's PIN for a purpose; 403 ``approval-invalid``
  for a wrong PIN, an unknown id, a disabled member or a cashier alike; 403 ``approver-locked``
  with ``Retry-After`` and ``locked_until`` after 5 wrong in a row (30 s doubling, at most 1 h;
  the till's schedule, :mod:`terminal.staff.rules`);
* ``POST /payments/v2/test/staff``: create or replace a member (test mode);
* ``POST /payments/v2/payments/{id}/refunds`` with ``staff_id`` and ``approval``: no approval is
  403 ``approval-required`` (every refund needs one: threshold 0, the contract's default); a bad
  one is refused like verify, counting toward the same lockout. A good one is passed on to the
  backend without the staff fields (signed again with the terminal's key, as if the till had
  sent it), so the backend's idempotency store never sees the PIN and a refusal stores nothing;
  the answer gains ``requested_by`` and ``approved_by``.

Everything else goes to the backend unchanged. Every request here must be signed with a known
terminal key. ``seen`` keeps the bodies it received, so a test can show the PIN travelled only
inside signed requests.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from terminal.domain import pins, signing
from terminal.staff.rules import PURPOSES, Attempts, after_right_pin, after_wrong_pin

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROBLEMS = "https://cryptopos.dev/problems/"
REFUND_PATH = re.compile(r"^/payments/v2/payments/([^/]+)/refunds$")


@dataclass
class Member:
    staff_id: str
    name: str
    role: str
    pin_hash: str
    disabled: bool = False
    attempts: Attempts = field(default_factory=Attempts)


class StaffContract:
    def __init__(
        self, app: ASGIApp, *, keys: dict[str, bytes], clock: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self.keys = keys
        self.clock = clock
        self.members: dict[str, Member] = {}
        self.seen: list[tuple[str, dict[str, Any]]] = []  # (path, body) of every staff request
        self.refunds: dict[str, tuple[str | None, str]] = {}  # refund_id -> requested_by, approved_by

    def add(self, staff_id: str, name: str, role: str, pin: str, *, disabled: bool = False) -> None:
        self.members[staff_id] = Member(staff_id, name, role, pins.hash_pin(pin), disabled)

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope.get("path", ""), scope.get("method", "")
        if scope["type"] != "http" or not (
            path in ("/payments/v2/staff", "/payments/v2/staff/verify", "/payments/v2/test/staff")
            or (method == "POST" and REFUND_PATH.match(path))
        ):
            await self.app(scope, receive, send)
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        key_id = headers.get(signing.KEY_ID.lower(), "")
        if key_id not in self.keys or not signing.verify(
            self.keys[key_id],
            method,
            path,
            int(headers.get(signing.TIMESTAMP.lower(), "0") or 0),
            headers.get(signing.NONCE.lower(), ""),
            raw,
            headers.get(signing.SIGNATURE.lower(), ""),
        ):
            await self._answer(send, 401, self._problem(401, "bad-signature", "Request not signed"))
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        if method == "GET" and path == "/payments/v2/staff":
            items = [
                {"staff_id": m.staff_id, "name": m.name, "role": m.role, "disabled": m.disabled}
                for m in self.members.values()
            ]
            await self._answer(send, 200, {"items": items})
            return
        if not isinstance(body, dict):
            await self._answer(send, 422, self._problem(422, "validation", "Body is not a JSON object"))
            return
        self.seen.append((path, json.loads(json.dumps(body))))  # a copy: the refund's is changed below
        if path == "/payments/v2/test/staff":
            self.add(str(body["staff_id"]), str(body["name"]), str(body["role"]), str(body["pin"]))
            await self._answer(send, 201, {"staff_id": body["staff_id"]})
        elif path == "/payments/v2/staff/verify":
            if body.get("purpose") not in PURPOSES or set(body) != {"staff_id", "pin", "purpose"}:
                await self._answer(send, 422, self._problem(422, "validation", "Invalid verify request"))
                return
            status, doc, extra = self._check(body.get("staff_id"), body.get("pin"))
            if status == 200:
                m = self.members[str(body["staff_id"])]
                doc = {"staff_id": m.staff_id, "name": m.name, "role": m.role}
            await self._answer(send, status, doc, extra)
        else:
            await self._refund(scope, body, headers, send)

    async def _refund(self, scope: Scope, body: dict[str, Any], headers: dict[str, str], send: Send) -> None:
        requested_by = body.pop("staff_id", None)
        approval = body.pop("approval", None)
        if approval is None:
            problem = self._problem(
                403, "approval-required", "Approval required", threshold_minor=0, currency="EUR"
            )
            await self._answer(send, 403, problem)
            return
        status, doc, extra = self._check(approval.get("staff_id"), approval.get("pin"))
        if status != 200:
            await self._answer(send, status, doc, extra)
            return
        approved_by = str(approval["staff_id"])
        raw = json.dumps(body, separators=(",", ":")).encode()
        key_id = headers[signing.KEY_ID.lower()]
        signed = signing.signature_headers(
            key_id=key_id,
            secret=self.keys[key_id],
            method="POST",
            path=scope["path"],
            timestamp=int(headers[signing.TIMESTAMP.lower()]),
            nonce=headers[signing.NONCE.lower()],
            body=raw,
        )
        replaced = {k.lower() for k in signed} | {"content-length"}
        inner_headers = [(k, v) for k, v in scope["headers"] if k.decode().lower() not in replaced]
        inner_headers += [(k.lower().encode(), v.encode()) for k, v in signed.items()]
        inner_headers.append((b"content-length", str(len(raw)).encode()))
        sent = False

        async def inner_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return {"type": "http.disconnect"}

        start: Message = {}
        parts: list[bytes] = []

        async def inner_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                parts.append(message.get("body", b""))

        await self.app({**scope, "headers": inner_headers}, inner_receive, inner_send)
        status = int(start.get("status", 500))
        answer = b"".join(parts)
        if status < 300:
            doc = json.loads(answer)
            first = self.refunds.setdefault(str(doc["refund_id"]), (requested_by, approved_by))
            doc["requested_by"], doc["approved_by"] = first
            await self._answer(send, status, doc)
            return
        passed = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({"type": "http.response.start", "status": status, "headers": passed})
        await send({"type": "http.response.body", "body": answer})

    # -- the PIN check (verify and a refund's approval share the lockout) ------------------------

    def _check(self, staff_id: Any, pin: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        invalid = (403, self._problem(403, "approval-invalid", "Approval not valid"), {})
        member = self.members.get(staff_id) if isinstance(staff_id, str) else None
        if member is None or not isinstance(pin, str):
            return invalid
        now = self.clock()
        left = member.attempts.locked_for(now)
        if left:
            until = datetime.fromtimestamp(member.attempts.locked_until or now, UTC)
            problem = self._problem(
                403,
                "approver-locked",
                "Approver locked out",
                locked_until=until.isoformat(timespec="seconds").replace("+00:00", "Z"),
            )
            return 403, problem, {"Retry-After": str(max(1, round(left)))}
        if not pins.verify_pin(pin, member.pin_hash):
            member.attempts = after_wrong_pin(member.attempts, now)
            return invalid
        if member.disabled or member.role != "manager":
            return invalid
        member.attempts = after_right_pin()
        return 200, {}, {}

    @staticmethod
    def _problem(status: int, slug: str, title: str, **extra: Any) -> dict[str, Any]:
        return {"type": PROBLEMS + slug, "title": title, "status": status, "detail": title, **extra}

    @staticmethod
    async def _answer(
        send: Send, status: int, doc: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        raw = json.dumps(doc).encode()
        kind = b"application/problem+json" if status >= 400 else b"application/json"
        headers = [(b"content-type", kind), (b"content-length", str(len(raw)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

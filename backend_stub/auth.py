"""Terminal authentication: HMAC-signed requests (see terminal.domain.signing).

Keys: a request's key id names a terminal; its secrets come from the service settings (static
keys, e.g. tests) and from the store's terminals table (``cryptopos backend terminal
add|rotate|revoke``), which every instance re-reads within ``Store.key_cache_s``, so a terminal
added or revoked takes effect without a restart. During a rotation's grace period a terminal has
two valid secrets; a signature made with either is accepted.

The nonce cache is the store's replay cache, so a replay sent to another instance (or another
build) of the service is caught too; it is shared but not durable (docs/decisions.md). It
keeps, per nonce, a digest of the signature that came with it, which tells a
*retransmission* (the very same signed request again: same key, nonce and signature, hence
same method, path, timestamp and body) from a *replay* (the nonce
used again for anything else). A retransmission is let through when repeating it is
harmless, and refused otherwise:

- a safe read (``GET``, ``HEAD``): always let through;
- a write on a route that honours ``Idempotency-Key`` (the :meth:`Authenticator.keyed`
  dependency) and carries one: let through, the idempotency layer replays the stored
  response or answers 409 while the first copy is still running;
- any other write (no key, or a route without an idempotency layer): refused, 401.

The same nonce with another signature is always refused. So a gateway or client may resend
a request after a lost answer without signing it again, and a captured request replayed by
someone else can do no more than fetch the answer the first one got.
"""

from __future__ import annotations

import functools
import hashlib

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from backend_stub.problems import ProblemError
from backend_stub.settings import ServiceSettings
from backend_stub.store import Store
from terminal.domain import signing

__all__ = ["Authenticator"]

_CHALLENGE = {"WWW-Authenticate": 'CP-HMAC-SHA256 realm="cryptopos"'}
MAX_NONCE_LEN = 128
_HEX = frozenset("0123456789abcdefABCDEF")
SAFE_METHODS = frozenset({"GET", "HEAD"})
IDEMPOTENCY_KEY = "Idempotency-Key"


def _unauthorized(type_: str, title: str, detail: str = "") -> ProblemError:
    return ProblemError(401, type_, title, detail, headers=_CHALLENGE)


class Authenticator:
    """A FastAPI dependency: returns the key id of a correctly signed request, else 401.

    Use the instance itself on routes without an idempotency layer and :meth:`keyed` on
    routes that pass ``Idempotency-Key`` to :func:`backend_stub.services.common.idempotent_write`.
    """

    def __init__(self, *, store: Store, settings: ServiceSettings) -> None:
        self.store = store
        self.settings = settings

    def _secrets(self, key_id: str, now: float) -> list[bytes]:
        """The settings' static key (tests, the embedded backend), then the terminals table's."""
        static = self.settings.keys.get(key_id)
        stored = self.store.terminal_secrets(key_id, now=now)
        return [static, *stored] if static is not None else stored

    async def __call__(self, request: Request) -> str:
        return await self._check(request, keyed=False)

    async def keyed(self, request: Request) -> str:
        """As a call, but a retransmission carrying an ``Idempotency-Key`` is let through."""
        return await self._check(request, keyed=True)

    async def _check(self, request: Request, *, keyed: bool) -> str:
        h = request.headers
        key_id, ts, nonce, sig = (
            h.get(signing.KEY_ID),
            h.get(signing.TIMESTAMP),
            h.get(signing.NONCE),
            h.get(signing.SIGNATURE),
        )
        if not (key_id and ts and nonce and sig):
            raise _unauthorized(
                "unauthenticated",
                "Request is not signed",
                "send X-Cp-Key-Id, X-Cp-Timestamp, X-Cp-Nonce and X-Cp-Signature",
            )
        try:
            timestamp = int(ts)
        except ValueError:
            raise _unauthorized("bad-timestamp", "Timestamp is not an integer", "epoch seconds") from None
        now = self.settings.clock()
        if abs(now - timestamp) > signing.WINDOW_S:
            raise _unauthorized(
                "stale-request",
                "Request timestamp outside the allowed window",
                f"timestamp is {int(now - timestamp)} s off; the window is ±{signing.WINDOW_S} s",
            )
        if len(nonce) > MAX_NONCE_LEN:
            raise _unauthorized("bad-nonce", "Nonce too long", f"at most {MAX_NONCE_LEN} characters")
        # What the client signed is the path as sent, before any percent-decoding.
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = raw.decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        if query:
            path = f"{path}?{query}"
        body = await request.body()
        if len(sig) != 64 or any(c not in _HEX for c in sig):
            raise _unauthorized("bad-signature", "Signature is not 64 hex digits")
        secrets = await run_in_threadpool(self._secrets, key_id, now)
        if not secrets:
            raise _unauthorized("unknown-key", "Unknown key id", f"no terminal key {key_id[:64]!r}")
        if not any(signing.verify(s, request.method, path, timestamp, nonce, body, sig) for s in secrets):
            raise _unauthorized("bad-signature", "Signature does not match")
        seen = await run_in_threadpool(
            functools.partial(
                self.store.remember_request,
                f"terminal:{key_id}",
                nonce,
                hashlib.sha256(sig.lower().encode()).hexdigest(),
                now=now,
                # a request this old is refused by the window anyway, so its nonce can go then
                keep_until=max(now, timestamp) + signing.WINDOW_S + 1,
                signed_at=timestamp,
            )
        )
        if seen == "forgotten":
            raise _unauthorized(
                "stale-request",
                "Request signed before the replay cache was reset",
                "the server's replay cache was emptied by a restart after this request was signed; "
                "sign it again",
            )
        if seen == "different":
            raise _unauthorized(
                "replayed-request", "Nonce already used", "the nonce came before with another request"
            )
        if seen == "same" and not _harmless_to_repeat(request, keyed=keyed):
            raise _unauthorized(
                "replayed-request",
                "Nonce already used",
                "a write is accepted once, unless it carries an Idempotency-Key where one is honoured",
            )
        return key_id


def _harmless_to_repeat(request: Request, *, keyed: bool) -> bool:
    if request.method in SAFE_METHODS:
        return True
    return keyed and bool(request.headers.get(IDEMPOTENCY_KEY))

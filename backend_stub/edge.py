"""What the edge refuses before a request costs anything: pure checks, no I/O.

Used by the gateway (every request) and by the instances' admission middleware
(:mod:`backend_stub.admission`), so both refuse the same things the same way:

- :func:`split_target`: the request target exactly as sent, checked, never decoded for
  forwarding. A path must start with ``/``; a ``%`` must start a ``%HH`` escape; nothing in
  the path or query may decode to a control character (``%00``, ``%0a``...). Anything else is
  400 ``malformed-path`` (or ``malformed-query``). Dot segments are *not* resolved: ``..%2f``
  travels as sent, and the instance sees what the terminal signed (docs/api.md).
- :func:`segments`: the path's segments, each percent-decoded on its own (so ``%2f`` never
  splits a segment), for routing.
- :func:`is_public`: the routes anyone may call without a signature (docs/api.md lists them).
- :func:`precheck`: a signed request's headers, timestamp and HMAC, checked as the instance's
  :class:`backend_stub.auth.Authenticator` checks them (same problem types), minus the nonce,
  which needs the shared ledger. Junk never reaches an instance, so it never costs a write.
  Two copies of these few checks on purpose for now: the gateway's works on raw bytes before
  any framework; ``auth.py`` is being reworked for the terminals table (issue 10), after which
  its stateless part can call this one.
- :class:`RateLimiter`: one token bucket per terminal key, bounded in memory.

Errors::

    EdgeRefusal (Exception)    a request refused here: status, problem slug, title, detail, headers
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from terminal.domain import signing

MAX_NONCE_LEN = 128  # as backend_stub.auth
_HEX = frozenset(b"0123456789abcdefABCDEF")
_CHALLENGE = (b"www-authenticate", b'CP-HMAC-SHA256 realm="cryptopos"')
# bytes a request target may carry as they are: visible ASCII, no fragment (lenient about
# the few RFC 3986 leaves out, such as "|" and "{", which clients send unescaped)
_TARGET_BYTES = frozenset(range(0x21, 0x7F)) - {ord("#")}


@dataclass(slots=True)
class EdgeRefusal(Exception):
    status: int
    slug: str
    title: str
    detail: str = ""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    retry_after: int | None = None


def _unhex(c: int) -> int:
    if 48 <= c <= 57:
        return c - 48
    c |= 0x20
    if 97 <= c <= 102:
        return c - 87
    return -1


def _check_part(raw: bytes, what: str) -> None:
    if not _TARGET_BYTES.issuperset(raw):
        bad = next(b for b in raw if b not in _TARGET_BYTES)
        raise EdgeRefusal(
            400, f"malformed-{what}", f"Malformed request {what}", f"byte 0x{bad:02x} not allowed"
        )
    i = raw.find(b"%")
    while i >= 0:
        hi = _unhex(raw[i + 1]) if i + 1 < len(raw) else -1
        lo = _unhex(raw[i + 2]) if i + 2 < len(raw) else -1
        if hi < 0 or lo < 0:
            raise EdgeRefusal(
                400, f"malformed-{what}", f"Malformed request {what}", "a '%' must start an escape like %2F"
            )
        value = hi * 16 + lo
        if value < 0x20 or value == 0x7F:
            raise EdgeRefusal(
                400,
                f"malformed-{what}",
                f"Malformed request {what}",
                f"%{value:02X} decodes to a control character",
            )
        i = raw.find(b"%", i + 3)


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """``(path, query)`` of a request target, exactly as sent; :class:`EdgeRefusal` (400)
    for a malformed one. The path is never decoded or normalised here."""
    if not target.startswith(b"/"):
        raise EdgeRefusal(400, "malformed-path", "Malformed request path", "the path must start with '/'")
    path, sep, query = target.partition(b"?")
    if b"%" in path or not _TARGET_BYTES.issuperset(path):
        _check_part(path, "path")
    if sep and (b"%" in query or not _TARGET_BYTES.issuperset(query)):
        _check_part(query, "query")
    return path, query


def _decode(segment: bytes) -> str:
    if b"%" not in segment:
        return segment.decode("ascii")
    out = bytearray()
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == 0x25:  # checked by split_target: a valid escape
            out.append(_unhex(segment[i + 1]) * 16 + _unhex(segment[i + 2]))
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", errors="replace")


def segments(path: bytes) -> list[str]:
    """The path's segments, each decoded on its own: ``/a%2Fb/c`` is ``["a/b", "c"]``."""
    return [_decode(s) for s in path.strip(b"/").split(b"/")]


PUBLIC_TOP = frozenset({"discovery", "healthz", "readyz", "metrics"})
PUBLIC_VERSIONED = frozenset({"openapi.json", "docs"})


def is_public(parts: list[str]) -> bool:
    """Routes without a signature (docs/api.md): ``/discovery``, ``/healthz``, ``/readyz``,
    each version's ``openapi.json`` and ``docs``, ``/rates/v2/keys``."""
    n = len(parts)
    if n == 1:
        return parts[0] in PUBLIC_TOP
    if n == 3:
        return parts[2] in PUBLIC_VERSIONED or (parts[0] == "rates" and parts[2] == "keys")
    return n == 4 and parts[2] == "docs" and parts[3] == "oauth2-redirect"


def _unauthorized(slug: str, title: str, detail: str = "") -> EdgeRefusal:
    return EdgeRefusal(401, slug, title, detail, [_CHALLENGE])


def precheck(
    *,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    now: float,
    keys: Mapping[str, Sequence[bytes]] | None,
) -> str:
    """The key id of a request signed as docs/api.md says, else :class:`EdgeRefusal` (401).

    ``keys`` (key id -> its usable secrets, two during a rotation) lets the edge check the
    HMAC too; without it only the request's shape and timestamp are checked (a key id then is
    only a claim, which is why the gateway is given the keys: a rate limit on a claimed id would
    let anyone spend another terminal's budget)."""
    key_id = ts = nonce = sig = None
    for k, v in headers:
        if k.startswith(b"x-cp-"):
            if k == b"x-cp-key-id":
                key_id = v
            elif k == b"x-cp-timestamp":
                ts = v
            elif k == b"x-cp-nonce":
                nonce = v
            elif k == b"x-cp-signature":
                sig = v
    if not (key_id and ts and nonce and sig):
        raise _unauthorized(
            "unauthenticated",
            "Request is not signed",
            "send X-Cp-Key-Id, X-Cp-Timestamp, X-Cp-Nonce and X-Cp-Signature",
        )
    kid = key_id.decode("latin-1")
    secrets: Sequence[bytes] | None = None
    if keys is not None:
        secrets = keys.get(kid)
        if not secrets:
            raise _unauthorized("unknown-key", "Unknown key id", f"no terminal key {kid[:64]!r}")
    try:
        timestamp = int(ts)
    except ValueError:
        raise _unauthorized("bad-timestamp", "Timestamp is not an integer", "epoch seconds") from None
    if abs(now - timestamp) > signing.WINDOW_S:
        raise _unauthorized(
            "stale-request",
            "Request timestamp outside the allowed window",
            f"timestamp is {int(now - timestamp)} s off; the window is ±{signing.WINDOW_S} s",
        )
    if len(nonce) > MAX_NONCE_LEN:
        raise _unauthorized("bad-signature", "Nonce too long", f"at most {MAX_NONCE_LEN} characters")
    if len(sig) != 64 or not _HEX.issuperset(sig):
        raise _unauthorized("bad-signature", "Signature is not 64 hex digits")
    if secrets is not None and not any(
        signing.verify(
            secret,
            method,
            target.decode("latin-1"),
            timestamp,
            nonce.decode("latin-1"),
            body,
            sig.decode("ascii"),
        )
        for secret in secrets
    ):
        raise _unauthorized("bad-signature", "Signature does not match")
    return kid


class RateLimiter:
    """A token bucket per key: ``rate`` tokens per second, at most ``burst`` saved up.

    Memory is bounded by design: a bucket that has refilled completely is the same as no
    bucket, so when the table reaches ``max_keys`` full buckets are dropped, and if that is
    not enough (a flood of distinct keys) the oldest half goes; a dropped bucket comes back
    full, which is the only thing it could be wrong about, in the requester's favour."""

    def __init__(self, *, rate: float, burst: float, max_keys: int = 65_536) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, updated_at]

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is there."""
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_keys:
                self._shrink(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, b[0] + (now - b[1]) * self.rate)
        b[1] = now
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return 0.0
        b[0] = tokens
        return (1.0 - tokens) / self.rate

    def _shrink(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full_after}
        if len(self._buckets) >= self.max_keys:
            keep = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[len(self._buckets) // 2 :]
            self._buckets = dict(keep)


def retry_after_s(wait: float) -> int:
    """A ``Retry-After`` in whole seconds, never 0 (0 invites an immediate retry)."""
    return max(1, math.ceil(wait))

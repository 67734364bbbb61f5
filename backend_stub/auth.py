"""Terminal authentication: HMAC-signed requests (see terminal.domain.signing)."""

from __future__ import annotations

from fastapi import Request

from backend_stub.problems import ProblemError
from backend_stub.state import BackendState
from terminal.domain import signing


async def verify_request(request: Request, state: BackendState) -> str:
    """Return the key id of a correctly signed request, else raise a 401 problem."""
    h = request.headers
    key_id, ts, nonce, sig = (
        h.get(signing.KEY_ID),
        h.get(signing.TIMESTAMP),
        h.get(signing.NONCE),
        h.get(signing.SIGNATURE),
    )
    if not (key_id and ts and nonce and sig):
        raise ProblemError(
            401,
            "unauthenticated",
            "Request is not signed",
            "send X-Cp-Key-Id, X-Cp-Timestamp, X-Cp-Nonce and X-Cp-Signature",
        )
    secret = state.keys.get(key_id)
    if secret is None:
        raise ProblemError(401, "unknown-key", "Unknown key id", f"no terminal key {key_id!r}")
    try:
        timestamp = int(ts)
    except ValueError:
        raise ProblemError(401, "bad-timestamp", "Timestamp is not an integer") from None
    now = state.clock()
    if abs(now - timestamp) > signing.WINDOW_S:
        raise ProblemError(
            401,
            "stale-request",
            "Request timestamp outside the allowed window",
            f"timestamp is {int(now - timestamp)} s off; the window is ±{signing.WINDOW_S} s",
        )
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()
    if not signing.verify(secret, request.method, path, timestamp, nonce, body, sig):
        raise ProblemError(401, "bad-signature", "Signature does not match")
    with state.lock:
        for n, seen in list(state.nonces.items()):
            if now - seen > signing.WINDOW_S:
                del state.nonces[n]
        replay_key = f"{key_id}:{nonce}"
        if replay_key in state.nonces:
            raise ProblemError(401, "replayed-request", "Nonce already used")
        state.nonces[replay_key] = now
    return key_id

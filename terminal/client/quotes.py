"""The rates service signs v2 quotes (Ed25519); a quote whose signature does not verify is
refused, never shown. Keys are pinned, or fetched once from ``/rates/v2/keys`` and fetched again
when a quote names a key not seen yet (rotation)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from terminal.client.adapters import AdapterError


def _unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64url: {exc}") from exc


class QuoteKeys:
    def __init__(
        self, pinned: dict[str, bytes] | None, fetch: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        """``pinned``: the keys by id (never fetched then); ``fetch``: reads the key list."""
        self._keys: dict[str, bytes] = dict(pinned or {})
        self._pinned = pinned is not None
        self._fetch = fetch

    async def verify(self, doc: dict[str, Any]) -> None:
        """Raise :class:`AdapterError` unless ``doc`` carries a valid signature of a known key."""
        sig = doc.get("signature")
        if not isinstance(sig, dict) or sig.get("alg") != "Ed25519":
            raise AdapterError("the quote is not signed with Ed25519")
        key_id, value = sig.get("key_id"), sig.get("value")
        if not isinstance(key_id, str) or not isinstance(value, str):
            raise AdapterError("the quote's signature has no key id or value")
        if key_id not in self._keys and not self._pinned:
            self._keys.update(await self._fetched())
        public = self._keys.get(key_id)
        if public is None:
            raise AdapterError(f"the quote is signed by an unknown key {key_id!r}")
        unsigned = {k: v for k, v in doc.items() if k != "signature"}
        canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(_unb64url(value), canonical)
        except (InvalidSignature, ValueError) as exc:
            raise AdapterError("the quote's signature does not verify: it was altered") from exc

    async def _fetched(self) -> dict[str, bytes]:
        data = await self._fetch()
        keys: dict[str, bytes] = {}
        for item in data.get("keys") or []:
            if isinstance(item, dict) and item.get("alg") == "Ed25519":
                try:
                    raw = _unb64url(str(item["public_key"]))
                except (KeyError, ValueError) as exc:
                    raise AdapterError("the rates service lists a malformed key") from exc
                if len(raw) == 32:
                    keys[str(item.get("key_id"))] = raw
        return keys

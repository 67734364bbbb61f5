"""Secrets at rest: Bolt Card K1/K2 and terminal HMAC secrets are sealed with AES-256-GCM under a
master key that never enters the database.

Where the master key comes from, first found wins:

1. ``CRYPTOPOS_MASTER_KEY``: 64 hex digits (a Kubernetes Secret as an environment variable);
2. ``CRYPTOPOS_MASTER_KEY_FILE``: a file holding them (a Secret mounted as a file); it must not be
   readable by group or others;
3. the key file the caller names (``backend up``: ``master.key`` in the run directory; an embedded
   SQLite ledger: ``<ledger>.key`` beside it), created 0600 with a random key when missing.

A PostgreSQL ledger has no default file: name one of the first two. Each sealed value is bound to
what it is (``card:<uid>:k1``...) through the AEAD's associated data, so a value copied into
another row or column does not open.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend_stub.store.errors import StoreConfigError

__all__ = ["ENV_KEY", "ENV_KEY_FILE", "MasterKey", "SealError"]

ENV_KEY = "CRYPTOPOS_MASTER_KEY"
ENV_KEY_FILE = "CRYPTOPOS_MASTER_KEY_FILE"
PREFIX = "gcm1:"
KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value does not open under this master key (wrong key, or tampered with)."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    key: bytes
    source: str  # where it came from, for messages (never the key itself)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise StoreConfigError(f"the master key from {self.source} is not {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r})"

    def seal(self, plain: bytes, *, purpose: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, plain, purpose.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, text: str, *, purpose: str) -> bytes:
        if not text.startswith(PREFIX):
            raise SealError(f"{purpose}: not a sealed value")
        try:
            raw = base64.b64decode(text[len(PREFIX) :], validate=True)
            return AESGCM(self.key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
        except (ValueError, InvalidTag):
            raise SealError(f"{purpose}: does not open under the master key from {self.source}") from None

    @classmethod
    def generate(cls, source: str = "a fresh random key") -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES), source)

    @classmethod
    def from_env_or_file(cls, default_file: Path | None) -> MasterKey:
        """The master key as the module docstring says; :class:`StoreConfigError` when it
        cannot be had (bad format, a file readable by others, none given for a server)."""
        env = os.environ.get(ENV_KEY)
        if env:
            return cls(_parse(env, f"${ENV_KEY}"), f"${ENV_KEY}")
        env_file = os.environ.get(ENV_KEY_FILE)
        if env_file:
            return cls._read(Path(env_file), create=False, source=f"${ENV_KEY_FILE} ({env_file})")
        if default_file is None:
            raise StoreConfigError(
                f"no master key for the card and terminal secrets: set {ENV_KEY} (64 hex digits) "
                f"or {ENV_KEY_FILE} (a 0600 file holding them)"
            )
        return cls._read(default_file, create=True, source=str(default_file))

    @classmethod
    def _read(cls, path: Path, *, create: bool, source: str) -> MasterKey:
        if create and not path.exists():
            with contextlib.suppress(FileExistsError):  # another process made it first: read that one
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            st = path.stat()
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise StoreConfigError(f"master key file {source}: not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreConfigError(f"master key file {source}: cannot read: {exc}") from None
        # Kubernetes mounts Secrets through symlinks; the mode that matters is the target's.
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO) and not _is_k8s_secret(path):
            raise StoreConfigError(
                f"master key file {source} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run: chmod 600 {path}"
            )
        return cls(_parse(text, source), source)


def _is_k8s_secret(path: Path) -> bool:
    # A Secret volume's files are 0644 by default unless defaultMode says otherwise; the volume
    # itself is a tmpfs only this pod sees. Recognised by Kubernetes' "..data" link beside it.
    return (path.parent / "..data").is_symlink()


def _parse(text: str, source: str) -> bytes:
    t = text.strip()
    try:
        key = bytes.fromhex(t)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise StoreConfigError(f"the master key in {source} must be {KEY_BYTES * 2} hex digits")
    return key

"""Where the ledger lives: a URL, ``sqlite:///path`` or ``postgresql://user:pw@host/db``.

SQLite follows SQLAlchemy's spelling: ``sqlite:///relative/path`` (three slashes, relative to a
base folder) and ``sqlite:////absolute/path`` (four). PostgreSQL URLs are libpq's, handed to
psycopg as they are (``?host=/run/postgresql`` for a socket folder, ``sslmode=...``).
Every message that shows a URL shows :meth:`StoreURL.redacted`, never the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from backend_stub.store.errors import StoreConfigError

__all__ = ["StoreURL", "parse_store_url", "redact"]

Dialect = Literal["sqlite", "postgresql"]
_PG_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class StoreURL:
    dialect: Dialect
    url: str  # as given (SQLite: made absolute); may hold a password: never print it
    path: Path | None = None  # SQLite only

    def redacted(self) -> str:
        return redact(self.url)

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"StoreURL({self.redacted()!r})"


def redact(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``; also ``password=`` in the query."""
    if "@" not in url and "password=" not in url.lower():
        return url  # nothing to hide (and urlunsplit would respell sqlite:////abs as sqlite://abs)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = "&".join(
        "password=***" if q.lower().startswith("password=") else q for q in parts.query.split("&") if q
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_store_url(text: str | Path, *, base: Path | None = None) -> StoreURL:
    """A store URL, or a bare file path (taken as SQLite). Relative SQLite paths are resolved
    against ``base`` (default: the current folder). :class:`StoreConfigError` otherwise."""
    if isinstance(text, Path):
        return _sqlite(text, base)
    raw = text.strip()
    scheme = raw.split(":", 1)[0].lower() if ":" in raw else ""
    if scheme == "sqlite":
        if not raw.lower().startswith("sqlite:///"):
            raise StoreConfigError(
                f"store URL {redact(raw)!r}: write sqlite:///relative/path or sqlite:////absolute/path"
            )
        path = raw[len("sqlite:///") :].split("?", 1)[0]
        if not path or path.endswith("/"):
            raise StoreConfigError(
                f"store URL {redact(raw)!r} names no file (an in-memory ledger is not shared)"
            )
        return _sqlite(Path(path), base)
    if scheme in _PG_SCHEMES:
        parts = urlsplit(raw)
        if not (parts.netloc or "host=" in parts.query):
            raise StoreConfigError(f"store URL {redact(raw)!r} names no server (postgresql://user@host/db)")
        return StoreURL("postgresql", raw)
    if scheme and len(scheme) > 1 and "/" not in scheme:  # 'c:' is a drive letter, not a scheme
        raise StoreConfigError(
            f"store URL {redact(raw)!r}: unknown scheme {scheme!r}; use sqlite:///PATH or postgresql://..."
        )
    if not raw:
        raise StoreConfigError("the store URL is empty; use sqlite:///PATH or postgresql://...")
    return _sqlite(Path(raw), base)


def _sqlite(path: Path, base: Path | None) -> StoreURL:
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    path = path.resolve()
    return StoreURL("sqlite", f"sqlite:///{path}", path)

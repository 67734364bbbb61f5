"""The store's errors (see the tree in ``backend_stub/store/__init__.py``)."""

from __future__ import annotations

__all__ = ["StoreConfigError", "StoreError", "StoreSchemaError", "StoreUnavailableError"]


class StoreError(RuntimeError):
    """The shared database cannot be used."""


class StoreConfigError(StoreError):
    """The store is configured wrongly: a bad URL, a missing driver, a master key problem."""


class StoreUnavailableError(StoreError):
    """The database does not answer (down, unreachable, refused the login, busy too long)."""


class StoreSchemaError(StoreError):
    """The ledger's schema is not one this code can use (newer than the code, or broken)."""

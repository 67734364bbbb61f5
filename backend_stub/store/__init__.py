"""The ledger shared by every instance and build, on SQLite or PostgreSQL, chosen by URL.

``Store("sqlite:///var/ledger.sqlite3")`` (or a plain path) is the embedded default: one file
in WAL mode with fsync, safe across the processes of one machine. ``Store("postgresql://...")``
is the same ledger on a server, for instances on many machines. Both give the services the
same guarantees (one charge per idempotency key, a Bolt Card counter accepted once, refunds
never above the payment), the same versioned schema (``schema.py``), the same replay cache
without a durable write per request, and the same sealing of card keys and terminal secrets
under a master key kept outside the database (``sealing.py``). docs/backend.md has more.

Errors::

    StoreError (RuntimeError)          the database cannot be used
     ├── StoreConfigError              a bad URL, a missing driver, the wrong or no master key
     ├── StoreUnavailableError         the database does not answer (down, refused, busy too long)
     └── StoreSchemaError              the ledger's schema is newer than this code
"""

from backend_stub.store.errors import StoreConfigError, StoreError, StoreSchemaError, StoreUnavailableError
from backend_stub.store.ledger import Card, IdempotencyBegun, Store, TerminalInfo
from backend_stub.store.sealing import MasterKey
from backend_stub.store.sql import NonceSeen, Row, Tx
from backend_stub.store.url import StoreURL, parse_store_url, redact

__all__ = [
    "Card",
    "IdempotencyBegun",
    "MasterKey",
    "NonceSeen",
    "Row",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StoreSchemaError",
    "StoreURL",
    "StoreUnavailableError",
    "TerminalInfo",
    "Tx",
    "parse_store_url",
    "redact",
]

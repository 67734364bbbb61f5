"""The sale journal: SQLite in WAL mode with ``synchronous=FULL``.

A sale is written before any network call, and every state change after it, so a
crash at any point leaves a record that ``reconcile`` can settle. Never stores raw
card data: only a SHA-256 of what the customer presented. The one exception is the
offline queue: a payment taken while the backend is unreachable must be forwarded
later, so its payload (only of the kinds allowed offline: one-time tokens, never a
card's keys) is kept until it has been forwarded, then wiped.

Sale states::

    amount_entered → awaiting_payment → submitting → approved | declined | unknown_outcome
                   ↘ offline_queued → forwarding → approved | declined
    final: approved, declined, expired, cancelled, failed (never charged)
    (a sale `reconcile` failed moves on to approved/declined when the backend's answer still arrives)

Also kept: replay guards (wallet-token nonces and Bolt Card counters seen), refunds,
and the backend's deprecation notices (for ``cryptopos doctor``).

Schema versions are numbered migrations applied in order (``PRAGMA user_version``).

Modules: ``store`` (:class:`Journal`: the file, its migrations, backend notices), ``sales`` (sales,
their events, the offline queue), ``guards`` (replay guards), ``refunds``, ``schema``
(migrations, final states), ``records`` (errors and records), ``base`` (the shared connection,
transactions, the one WHERE builder).

Errors::

    JournalError (Exception)
     ├── JournalOpenError       the file cannot be opened as a journal (not a database, a directory,
     │   │                      a newer schema)
     │   └── JournalDamagedError  quick_check failed: a copy kept aside, readable open sales listed
     ├── SaleFinalError         a change to a sale that is already settled
     └── ReplayError            a token or card counter that was seen before
"""

from terminal.journal.records import (
    JournalDamagedError,
    JournalError,
    JournalOpenError,
    NoticeRecord,
    RefundRecord,
    ReplayError,
    SaleFinalError,
    SaleRecord,
    payload_hash,
)
from terminal.journal.schema import FINAL_STATES, MIGRATIONS, OFFLINE_STATES
from terminal.journal.store import Journal

__all__ = [
    "FINAL_STATES",
    "MIGRATIONS",
    "OFFLINE_STATES",
    "Journal",
    "JournalDamagedError",
    "JournalError",
    "JournalOpenError",
    "NoticeRecord",
    "RefundRecord",
    "ReplayError",
    "SaleFinalError",
    "SaleRecord",
    "payload_hash",
]

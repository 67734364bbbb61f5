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
the backend's deprecation notices (for ``cryptopos doctor``), the staff roster (cashiers' PINs
only as salted scrypt hashes, never a manager's), wrong-PIN counts and lockouts, settings
changed at the till, and the append-only audit trail (who took each sale and refund, who
approved what, sign-ins, wrong PINs, lockouts, setting changes). New sales and refunds are
recorded under ``Journal.acting_staff``, whoever is signed in.

Schema versions are numbered migrations applied in order (``PRAGMA user_version``).

Modules: ``store`` (:class:`Journal`: the file, its migrations, backend notices), ``sales`` (sales,
their events, the offline queue), ``guards`` (replay guards), ``refunds``, ``staff`` (the roster),
``audit`` (the trail; triggers refuse UPDATE and DELETE), ``settings`` (changed at the till),
``schema`` (migrations, final states), ``records`` (errors and records), ``base`` (the shared
connection, transactions, the one WHERE builder).

Errors::

    JournalError (Exception)
     ├── JournalOpenError       the file cannot be opened as a journal (not a database, a directory,
     │   │                      a newer schema)
     │   └── JournalDamagedError  quick_check failed: a copy kept aside, readable open sales listed
     ├── SaleFinalError         a change to a sale that is already settled
     ├── ReplayError            a token or card counter that was seen before
     ├── StaffExistsError       a staff id that is already on the till
     └── UnknownStaffError      a staff id the till does not know
"""

from terminal.journal.audit import AUDIT_EVENTS
from terminal.journal.records import (
    AuditRecord,
    JournalDamagedError,
    JournalError,
    JournalOpenError,
    NoticeRecord,
    RefundRecord,
    ReplayError,
    SaleFinalError,
    SaleRecord,
    StaffRecord,
    TillSetting,
    payload_hash,
)
from terminal.journal.schema import FINAL_STATES, MIGRATIONS, OFFLINE_STATES
from terminal.journal.staff import StaffExistsError, UnknownStaffError
from terminal.journal.store import Journal

__all__ = [
    "AUDIT_EVENTS",
    "FINAL_STATES",
    "MIGRATIONS",
    "OFFLINE_STATES",
    "AuditRecord",
    "Journal",
    "JournalDamagedError",
    "JournalError",
    "JournalOpenError",
    "NoticeRecord",
    "RefundRecord",
    "ReplayError",
    "SaleFinalError",
    "SaleRecord",
    "StaffExistsError",
    "StaffRecord",
    "TillSetting",
    "UnknownStaffError",
    "payload_hash",
]

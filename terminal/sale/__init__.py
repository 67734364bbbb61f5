"""One sale: drives the pure session with a backend client, a journal and readers.

The only place where the session's commands become I/O. Every face shares one core and fills
in its hooks: :class:`SaleRunner` (the headless CLI) waits for readers itself, the TUI's till
(``terminal.tui.controller.Register``) drives the same core step by step from keys, ticks and reader
workers. Neither talks to httpx or a driver directly. One module per step:

| module | owns |
|---|---|
| ``core`` | :class:`SaleCore`, the conductor: the face's calls, the sale's state, command dispatch |
| ``hooks`` | :class:`SaleHooks`, what a face overrides to show or wait |
| ``quoting`` | quoting and re-quoting; a refused quote closes the sale |
| ``guards`` | presentation checks and replay guards, before the backend is asked |
| ``offline`` | the ``[offline]`` policy and taking or queueing a sale without the backend |
| ``submission`` | submitting once, and the status inquiry of an unknown outcome |
| ``settling`` | journaling the backend's answer; a sale settled elsewhere first |
| ``report`` | :class:`SaleReport`, references and the sale's idempotency key |
| ``runner`` | :class:`SaleRunner`, the headless face, and :func:`reader_for` |

Order of writes: the sale (reference, amount, asset, idempotency key) is journaled before
any network call; the quote before readers start; ``submitting`` with the payload's hash
before the payment is sent; the result after. A crash anywhere leaves a row that
:func:`terminal.settlement.reconcile` can settle.
"""

from terminal.sale.core import INQUIRY_ATTEMPTS, INQUIRY_DELAY_S, MAX_QUOTES, SaleCore
from terminal.sale.offline import OfflineCaps, OfflinePolicy, offline_policy
from terminal.sale.report import SaleReport, idempotency_key_for, new_reference
from terminal.sale.runner import QUOTE_MARGIN_S, SaleRunner, reader_for

__all__ = [
    "INQUIRY_ATTEMPTS",
    "INQUIRY_DELAY_S",
    "MAX_QUOTES",
    "QUOTE_MARGIN_S",
    "OfflineCaps",
    "OfflinePolicy",
    "SaleCore",
    "SaleReport",
    "SaleRunner",
    "idempotency_key_for",
    "new_reference",
    "offline_policy",
    "reader_for",
]

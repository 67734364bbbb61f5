"""Errors of the NFC readers, each with a title and a message a cashier can act on.

The tree is drawn in :mod:`drivers.nfc`.
"""

from __future__ import annotations

from drivers.registry import DriverError


class NfcError(DriverError):
    title = "NFC read failed"
    code = "nfc_error"
    hint = "tap again"

    def __init__(self, message: str, *, title: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title
        if hint is not None:
            self.hint = hint


class TagLostError(NfcError):
    """The card left the field (or stopped answering) in the middle of a read."""

    title = "Card removed too soon"
    code = "card_removed"
    hint = "tap again and hold the card still until the beep"


class TagUnsupportedError(NfcError):
    title = "Card not supported"
    code = "tag_unsupported"
    hint = "use a payment card, a Bolt Card or the wallet app"


class NdefFormatError(NfcError):
    title = "Unreadable card"
    code = "ndef_malformed"
    hint = "the card's data is damaged; use another card"


class WalletError(NfcError):
    title = "Wallet refused"
    code = "wallet_error"
    hint = "check the phone and tap again"


class ReaderUnavailableError(NfcError):
    """The reader cannot be opened: not plugged in, busy, or no permission."""

    title = "NFC reader not available"
    code = "reader_unavailable"
    hint = ""

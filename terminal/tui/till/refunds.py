"""Refunds of approved sales to the customer's validated address, journaled before they are
sent like a sale; a refund whose answer was lost is left to `reconcile`."""

from __future__ import annotations

import hashlib

from terminal.client import BackendError, OutcomeUnknownError, UnsupportedError
from terminal.tui.till.records import Records
from terminal.tui.updates import NotSupportedError, RegisterError

# What kind of code can receive a refund in each asset (terminal.domain.payloads kinds).
REFUND_KINDS = {
    "BTC": ("bitcoin",),
    "BTC-LN": ("bolt11", "lnurl"),
    "ETH": ("ethereum",),
    "USDC": ("ethereum",),
    "USDT": ("ethereum",),
    "SOL": ("solana_transfer",),
}


def refund_key_for(reference: str, address: str) -> str:
    """Derived from the journaled sale and where the refund goes: the same on every retry."""
    return hashlib.sha256(f"{reference}|refund:{address}".encode()).hexdigest()[:32]


class RefundSteps(Records):
    async def refund(self, reference: str, *, to: str, amount_minor: int | None = None) -> str:
        """Refund an approved sale to the customer's address. Returns the refund id."""
        record, _ = self.detail(reference)
        if record.state != "approved" or record.payment_id is None:
            raise RegisterError(
                "Cannot refund",
                f"sale {reference} is {record.state}",
                "only approved payments can be refunded",
            )
        address = to.strip()
        if not address:
            raise RegisterError("No address", "scan or type the customer's receive address")
        from terminal.domain.payloads import PayloadError, parse_payload

        try:
            kind = parse_payload(address, now=self.clock()).kind
        except PayloadError as exc:
            raise RegisterError(
                "Address not valid", exc.message, "scan the customer's receive QR again"
            ) from None
        wanted = REFUND_KINDS.get(record.asset, ())
        if kind not in wanted:
            raise RegisterError(
                "Address does not fit",
                f"a {kind} code cannot receive {record.asset}",
                f"ask for a {' or '.join(wanted) or record.asset} address",
            )
        key = refund_key_for(reference, address)
        amount = amount_minor if amount_minor is not None else record.crypto_minor
        if amount is None:
            raise RegisterError("Cannot refund", f"sale {reference} has no crypto amount in the journal")
        earlier = self.journal.refund(key)
        # sent before and its fate not learned: a refusal of this resend says nothing about it
        resend = earlier is not None and earlier.state in ("submitting", "unknown_outcome")
        # journaled before it is sent, like a sale; `reconcile` resends one whose answer was lost
        self.journal.open_refund(
            idempotency_key=key,
            payment_id=record.payment_id,
            reference=reference,
            amount_minor=amount,
            asset=record.asset,
            to=address,
        )
        try:
            result = await self.client.refund(
                payment_id=record.payment_id, amount_minor=amount, to=address, idempotency_key=key
            )
        except UnsupportedError as exc:
            self.journal.update_refund(key, "failed", detail=exc.message)
            raise NotSupportedError(
                exc.title, exc.message, "refunds need payments API v2; refund from the back office"
            ) from None
        except OutcomeUnknownError as exc:
            self.journal.update_refund(key, "unknown_outcome", detail=exc.message)
            raise RegisterError(
                exc.title, exc.message, "refund again: the same request cannot pay out twice"
            ) from None
        except BackendError as exc:
            if resend:
                self.journal.update_refund(key, "unknown_outcome", detail=exc.message)
                raise RegisterError(
                    exc.title, exc.message, "an earlier attempt may have been paid out; left to reconcile"
                ) from None
            self.journal.update_refund(key, "failed", detail=exc.message)
            raise RegisterError(exc.title, exc.message, "nothing was refunded; check and try again") from None
        self.journal.update_refund(key, result.status, refund_id=result.refund_id)
        return result.refund_id

"""Refunds of approved sales to the customer's validated address, journaled before they are
sent like a sale; a refund whose answer was lost is left to `reconcile`."""

from __future__ import annotations

import hashlib
from urllib.parse import quote as urlquote

from terminal.client import (
    Approval,
    ApprovalRefusedError,
    BackendError,
    OutcomeUnknownError,
    UnsupportedError,
)
from terminal.journal import SaleRecord
from terminal.staff.desk import StaffError
from terminal.tui.till.records import Records
from terminal.tui.updates import NotSupportedError, PinRefusedError, RegisterError

# What kind of code can receive a refund in each asset (terminal.domain.payloads kinds).
REFUND_KINDS = {
    "BTC": ("bitcoin",),
    "BTC-LN": ("bolt11", "lnurl"),
    "ETH": ("ethereum",),
    "USDC": ("ethereum",),
    "USDT": ("ethereum",),
    "SOL": ("solana_transfer",),
}


# What the demo's customer shows when asked where a refund goes (a demo key on the refund
# screen): a valid receive code of each asset, presented by a one-shot simulated QR reader, so
# it takes the same path as a real scan. The demo's readers present nothing by themselves.
DEMO_REFUND_ADDRESSES = {
    "BTC": "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "BTC-LN": (
        "LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZ"
        "EPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS"
    ),
    "ETH": "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "USDC": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "USDT": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "SOL": "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN",
}


def refund_key_for(reference: str, address: str) -> str:
    """Derived from the journaled sale and where the refund goes: the same on every retry."""
    return hashlib.sha256(f"{reference}|refund:{address}".encode()).hexdigest()[:32]


class RefundSteps(Records):
    def demo_refund_device(self, reference: str) -> str | None:
        """The demo customer's receive QR for this sale's asset, as a one-shot simulated reader;
        ``None`` outside the demo."""
        if not self.demo:
            return None
        record, _ = self.detail(reference)
        address = DEMO_REFUND_ADDRESSES.get(record.asset)
        return None if address is None else f"sim:qr?payload={urlquote(address, safe='')}&delay=0"

    def check_refund(self, reference: str, *, to: str, amount_minor: int | None = None) -> None:
        """Raise :class:`RegisterError` when this refund cannot be made (before a manager is
        asked for their PIN): the sale, the address and the amount."""
        self._planned(reference, to, amount_minor)

    def _planned(self, reference: str, to: str, amount_minor: int | None) -> tuple[SaleRecord, str, str, int]:
        """The sale, the checked address, the refund's key and amount."""
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
        return record, address, key, amount

    async def refund(
        self, reference: str, *, to: str, approver: str, pin: str, amount_minor: int | None = None
    ) -> str:
        """Refund an approved sale to the customer's address, with the approval of the manager
        ``approver`` whose ``pin`` was typed for it now: the backend checks it (it goes inside the
        signed refund request, never into the journal). Returns the refund id. A refused
        approval is :class:`PinRefusedError`: nothing was paid and the same refund may be sent
        again with the right PIN (same key)."""
        record, address, key, amount = self._planned(reference, to, amount_minor)
        assert record.payment_id is not None  # an approved sale has one (checked in _planned)
        try:
            self.staff.check_approver(approver)
        except StaffError as exc:
            raise PinRefusedError(exc.title, exc.message, exc.hint) from None
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
            approval_from=approver,
        )
        subject = f"refund of {record.payment_id}"
        try:
            result = await self.client.refund(
                payment_id=record.payment_id,
                amount_minor=amount,
                to=address,
                idempotency_key=key,
                staff_id=self.journal.acting_staff,
                approval=Approval(approver, pin),
            )
        except ApprovalRefusedError as exc:
            # nothing was paid and the refusal is not stored under the key: the same refund may
            # go again with the right PIN; a resend after a lost answer stays open all the same
            self.journal.update_refund(key, "unknown_outcome" if resend else "failed", detail=exc.title)
            why = self.staff.refund_approval_refused(approver, exc.type, exc.retry_after_s, subject=subject)
            raise PinRefusedError(why.title, why.message, why.hint) from None
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
        # who approved is the backend's word (null when its policy needed no approval)
        self.journal.update_refund(
            key, result.status, refund_id=result.refund_id, approved_by=result.approved_by
        )
        if result.approved_by is not None:
            self.staff.refund_approved(result.approved_by, subject=f"refund {result.refund_id}")
        return result.refund_id

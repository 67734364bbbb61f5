"""One small adapter per API version: it builds requests and reads answers, the rest of the
terminal sees one model (:class:`~terminal.domain.quote.Quote`, :class:`PaymentResult`,
:class:`RefundResult`).

v1 speaks decimal strings in major units; v2 integer minor units (crypto as strings of
digits) and has refunds. Adapters do no I/O; the client sends what they build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote as quote_path
from urllib.parse import urlencode

from terminal.domain.money import Asset, Money, MoneyError, asset, fiat_to_crypto
from terminal.domain.quote import Quote


class AdapterError(Exception):
    """The backend's answer does not have the shape the contract promises."""


class UnsupportedOperationError(Exception):
    """The negotiated API version has no such operation (e.g. refunds on v1)."""


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment_id: str
    reference: str
    status: str  # approved | declined | pending
    reason: str | None
    amount_minor: int | None = None
    asset: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceResult:
    """A merchant-presented invoice (payments v2): ``uri`` is what the customer's wallet scans."""

    invoice_id: str
    payment_id: str
    reference: str
    kind: str  # bip21 | eip681 | solana | bolt11
    uri: str
    status: str  # pending | paid | partially_paid | overpaid | expired | late_paid
    payment_status: str  # approved | declined | pending
    amount_minor: int
    received_minor: int
    version: str | None = None  # changes whenever the invoice does (a backend with long-poll sends it)


# The invoice kind for each asset (docs/api.md: the kind must fit the asset).
INVOICE_KINDS = {
    "BTC": "bip21",
    "BTC-LN": "bolt11",
    "ETH": "eip681",
    "USDC": "eip681",
    "USDT": "eip681",
    "SOL": "solana",
}


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    payment_id: str
    amount_minor: int
    to: str
    status: str
    requested_by: str | None = None  # the staff id the till sent with it
    approved_by: str | None = None  # the manager whose approval the backend accepted


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A member of staff as the backend knows them (never a PIN or its hash)."""

    staff_id: str
    name: str
    role: str  # cashier | manager
    disabled: bool = False


@dataclass(frozen=True, slots=True, repr=False)
class Approval:
    """A manager's approval for one refund: their id and the PIN typed at this moment. Sent in
    the signed refund request and never kept; ``repr`` leaves the PIN out so a log line or a
    traceback cannot show it."""

    staff_id: str
    pin: str

    def __repr__(self) -> str:
        return f"Approval(staff_id={self.staff_id!r}, pin=<hidden>)"


def _epoch(text: Any) -> float:
    if not isinstance(text, str):
        raise AdapterError(f"a time must be an RFC 3339 string, not {type(text).__name__}")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _digits(value: Any, what: str) -> int:
    # v2 sends crypto minor units as strings of digits (wei overflow JSON numbers) and fiat as ints
    if isinstance(value, bool):
        raise AdapterError(f"{what} must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise AdapterError(f"{what} must be integer minor units, got {value!r}")


def _optional_text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise AdapterError(f"{what} must be a string, got {type(value).__name__}")


def _check_quote(q: Quote, amount: Money, crypto: Asset) -> Quote:
    """Refuse an answer that is not the quote asked for, or whose amount does not follow from
    its rate: the '1 satoshi invoice' when every rate source failed is caught here."""
    if q.fiat != amount or q.crypto.asset != crypto:
        raise AdapterError("the quote does not match the amount and asset asked for")
    if q.rate <= 0 or not q.crypto.is_positive():
        raise AdapterError(f"the quote has a nonsense rate {q.rate} or amount {q.crypto}")
    expected = fiat_to_crypto(amount, crypto, q.rate)
    # one minor unit of slack for a backend that rounds the rate it shows
    if abs(expected.minor - q.crypto.minor) > max(1, expected.minor // 10_000):
        raise AdapterError(
            f"the quote's amount {q.crypto} does not follow from its rate {q.rate} ({expected})"
        )
    if q.expires_at <= q.issued_at:
        raise AdapterError("the quote expires before it was issued")
    return q


class Adapter:
    version: ClassVar[str]

    def quote_request(self, amount: Money, crypto: Asset) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def parse_quote(self, data: dict[str, Any], amount: Money, crypto: Asset) -> Quote:
        raise NotImplementedError

    def payment_request(self, *, quote: Quote, reference: str, payload: str) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def parse_payment(self, data: Any) -> PaymentResult:
        raise NotImplementedError

    def payment_path(self, payment_id: str) -> str:
        return f"/payments/{self.version}/payments/{payment_id}"

    def by_reference_path(self, reference: str) -> str:
        return f"/payments/{self.version}/payments?{urlencode({'reference': reference})}"

    def refund_request(
        self,
        *,
        payment_id: str,
        amount_minor: int,
        to: str,
        staff_id: str | None = None,
        approval: Approval | None = None,
    ) -> tuple[str, dict[str, Any]]:
        raise UnsupportedOperationError(f"refunds need API v2; this backend speaks {self.version}")

    def staff_path(self) -> str:
        raise UnsupportedOperationError(f"staff need API v2; this backend speaks {self.version}")

    def verify_staff_path(self) -> str:
        raise UnsupportedOperationError(f"staff need API v2; this backend speaks {self.version}")

    def heartbeat_path(self) -> str:
        raise UnsupportedOperationError(f"heartbeats need API v2; this backend speaks {self.version}")

    def parse_staff(self, data: dict[str, Any]) -> list[StaffMember]:
        raise UnsupportedOperationError(f"staff need API v2; this backend speaks {self.version}")

    def parse_verified(self, data: dict[str, Any]) -> StaffMember:
        raise UnsupportedOperationError(f"staff need API v2; this backend speaks {self.version}")

    def parse_refund(self, data: dict[str, Any]) -> RefundResult:
        raise UnsupportedOperationError(f"refunds need API v2; this backend speaks {self.version}")

    def invoice_request(self, *, quote: Quote, reference: str, kind: str) -> tuple[str, dict[str, Any]]:
        raise UnsupportedOperationError(f"invoices need API v2; this backend speaks {self.version}")

    def invoice_path(self, invoice_id: str) -> str:
        raise UnsupportedOperationError(f"invoices need API v2; this backend speaks {self.version}")

    def invoice_wait_path(self, invoice_id: str, *, wait_s: int, after: str) -> str:
        """The invoice, held by the backend up to ``wait_s`` while it is still at ``after``."""
        return f"{self.invoice_path(invoice_id)}?{urlencode({'wait': wait_s, 'after': after})}"

    def parse_invoice(self, data: dict[str, Any]) -> InvoiceResult:
        raise UnsupportedOperationError(f"invoices need API v2; this backend speaks {self.version}")

    def parse_items(self, data: dict[str, Any]) -> list[PaymentResult]:
        items = data.get("items")
        if not isinstance(items, list):
            raise AdapterError("a payment list without 'items'")
        return [self.parse_payment(item) for item in items]


class V1Adapter(Adapter):
    version = "v1"

    def quote_request(self, amount: Money, crypto: Asset) -> tuple[str, dict[str, Any]]:
        body = {"fiat_amount": amount.amount_str(), "fiat_currency": amount.asset.code, "asset": crypto.code}
        return "/rates/v1/quotes", body

    def parse_quote(self, data: dict[str, Any], amount: Money, crypto: Asset) -> Quote:
        try:
            q = Quote(
                quote_id=str(data["quote_id"]),
                fiat=Money.from_decimal(data["fiat_amount"], asset(data["fiat_currency"])),
                crypto=Money.from_decimal(data["crypto_amount"], asset(data["asset"])),
                rate=Decimal(data["rate"]),
                spread_bps=int(data["spread_bps"]),
                issued_at=_epoch(data["issued_at"]),
                expires_at=_epoch(data["expires_at"]),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation, MoneyError) as exc:
            raise AdapterError(f"{type(exc).__name__}: {exc}") from exc
        return _check_quote(q, amount, crypto)

    def payment_request(self, *, quote: Quote, reference: str, payload: str) -> tuple[str, dict[str, Any]]:
        body = {
            "quote_id": quote.quote_id,
            "reference": reference,
            "asset": quote.crypto.asset.code,
            "amount": quote.crypto.amount_str(),
            "payload": payload,
        }
        return "/payments/v1/payments", body

    def parse_payment(self, data: Any) -> PaymentResult:
        try:
            amount = data.get("amount")
            code = data.get("asset")
            minor = Money.from_decimal(amount, asset(code)).minor if amount and code else None
            return PaymentResult(
                str(data["payment_id"]),
                str(data["reference"]),
                str(data["status"]),
                data.get("reason"),
                minor,
                code,
            )
        except (AttributeError, KeyError, TypeError, MoneyError) as exc:
            raise AdapterError(f"a payment without {exc}") from exc


class V2Adapter(Adapter):
    version = "v2"

    def quote_request(self, amount: Money, crypto: Asset) -> tuple[str, dict[str, Any]]:
        body = {"fiat_minor": amount.minor, "fiat_currency": amount.asset.code, "asset": crypto.code}
        return "/rates/v2/quotes", body

    def parse_quote(self, data: dict[str, Any], amount: Money, crypto: Asset) -> Quote:
        try:
            q = Quote(
                quote_id=str(data["quote_id"]),
                fiat=Money(_digits(data["fiat_minor"], "fiat_minor"), asset(data["fiat_currency"])),
                crypto=Money(_digits(data["crypto_minor"], "crypto_minor"), asset(data["asset"])),
                rate=Decimal(data["rate"]),
                spread_bps=int(data["spread_bps"]),
                issued_at=_epoch(data["issued_at"]),
                expires_at=_epoch(data["expires_at"]),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation, MoneyError) as exc:
            raise AdapterError(f"{type(exc).__name__}: {exc}") from exc
        return _check_quote(q, amount, crypto)

    def payment_request(self, *, quote: Quote, reference: str, payload: str) -> tuple[str, dict[str, Any]]:
        body = {
            "quote_id": quote.quote_id,
            "reference": reference,
            "asset": quote.crypto.asset.code,
            "amount_minor": str(quote.crypto.minor),
            "payload": payload,
        }
        return "/payments/v2/payments", body

    def parse_payment(self, data: Any) -> PaymentResult:
        try:
            raw = data.get("amount_minor")
            return PaymentResult(
                str(data["payment_id"]),
                str(data["reference"]),
                str(data["status"]),
                data.get("reason"),
                None if raw is None else _digits(raw, "amount_minor"),
                data.get("asset"),
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise AdapterError(f"a payment without {exc}") from exc

    def refund_request(
        self,
        *,
        payment_id: str,
        amount_minor: int,
        to: str,
        staff_id: str | None = None,
        approval: Approval | None = None,
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"amount_minor": str(amount_minor), "to": to}
        if staff_id is not None:
            body["staff_id"] = staff_id
        if approval is not None:
            body["approval"] = {"staff_id": approval.staff_id, "pin": approval.pin}
        return f"/payments/v2/payments/{payment_id}/refunds", body

    def parse_refund(self, data: dict[str, Any]) -> RefundResult:
        try:
            return RefundResult(
                str(data["refund_id"]),
                str(data["payment_id"]),
                _digits(data["amount_minor"], "amount_minor"),
                str(data["to"]),
                str(data["status"]),
                _optional_text(data.get("requested_by"), "requested_by"),
                _optional_text(data.get("approved_by"), "approved_by"),
            )
        except (KeyError, TypeError) as exc:
            raise AdapterError(f"a refund without {exc}") from exc

    def staff_path(self) -> str:
        return "/payments/v2/staff"

    def verify_staff_path(self) -> str:
        return "/payments/v2/staff/verify"

    def heartbeat_path(self) -> str:
        return "/payments/v2/terminals/heartbeat"

    def parse_staff(self, data: dict[str, Any]) -> list[StaffMember]:
        items = data.get("items")
        if not isinstance(items, list):
            raise AdapterError("a staff list without 'items'")
        out = []
        for item in items:
            member = self._member(item)
            disabled = item.get("disabled", False)
            if not isinstance(disabled, bool):
                raise AdapterError(f"staff {member.staff_id}: 'disabled' must be true or false")
            out.append(StaffMember(member.staff_id, member.name, member.role, disabled))
        return out

    def parse_verified(self, data: dict[str, Any]) -> StaffMember:
        return self._member(data)

    @staticmethod
    def _member(item: Any) -> StaffMember:
        if not isinstance(item, dict):
            raise AdapterError("a staff member must be an object")
        fields = [item.get(k) for k in ("staff_id", "name", "role")]
        if not all(isinstance(f, str) and f for f in fields):
            raise AdapterError("a staff member needs the strings staff_id, name and role")
        staff_id, name, role = (str(f) for f in fields)
        if role not in ("cashier", "manager"):
            raise AdapterError(f"staff {staff_id}: role {role!r} is neither cashier nor manager")
        return StaffMember(staff_id, name, role)

    def invoice_request(self, *, quote: Quote, reference: str, kind: str) -> tuple[str, dict[str, Any]]:
        return "/payments/v2/invoices", {"quote_id": quote.quote_id, "reference": reference, "kind": kind}

    def invoice_path(self, invoice_id: str) -> str:
        return f"/payments/v2/invoices/{quote_path(invoice_id)}"

    def parse_invoice(self, data: dict[str, Any]) -> InvoiceResult:
        try:
            return InvoiceResult(
                str(data["invoice_id"]),
                str(data["payment_id"]),
                str(data["reference"]),
                str(data["kind"]),
                str(data["uri"]),
                str(data["status"]),
                str(data["payment_status"]),
                _digits(data["amount_minor"], "amount_minor"),
                _digits(data.get("received_minor", 0), "received_minor"),
                _optional_text(data.get("version"), "version"),
            )
        except (KeyError, TypeError) as exc:
            raise AdapterError(f"an invoice without {exc}") from exc


ADAPTERS: dict[str, Adapter] = {"v1": V1Adapter(), "v2": V2Adapter()}


def offers(discovery: dict[str, Any], *, service: str, version: str, capability: str) -> bool:
    """Whether discovery lists ``capability`` for ``service`` ``version`` (a backend that predates
    capabilities lists none, and so offers none)."""
    services = discovery.get("services")
    entry = services.get(service) if isinstance(services, dict) else None
    versions = entry.get("versions") if isinstance(entry, dict) else None
    for v in versions if isinstance(versions, list) else []:
        if isinstance(v, dict) and v.get("version") == version:
            flags = v.get("capabilities")
            return isinstance(flags, list) and capability in flags
    return False


def choose_version(discovery: dict[str, Any], *, supported: tuple[str, ...] = ("v2", "v1")) -> str:
    """The newest version both services offer and that is not past its sunset."""
    services = discovery.get("services")
    if not isinstance(services, dict):
        raise AdapterError("discovery without 'services'")
    usable: list[set[str]] = []
    for name in ("rates", "payments"):
        versions = (
            (services.get(name) or {}).get("versions") if isinstance(services.get(name), dict) else None
        )
        if not isinstance(versions, list):
            raise AdapterError(f"discovery does not list the versions of {name!r}")
        usable.append(
            {
                str(v.get("version"))
                for v in versions
                if isinstance(v, dict) and v.get("status") in ("stable", "deprecated")
            }
        )
    for version in supported:
        if all(version in u for u in usable):
            return version
    offered = sorted(set().union(*usable))
    raise AdapterError(
        f"no API version in common: the backend offers {', '.join(offered) or 'none'}, "
        f"this terminal speaks {', '.join(supported)}"
    )

"""payments v2: integer minor units, required Idempotency-Key, list/inquiry, refunds,
merchant-presented invoices and verified customer payloads (Bolt Card, wallet tokens)."""

# No `from __future__ import annotations`: FastAPI must see the per-app `Terminal` alias.
import base64
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from backend_stub.auth import Authenticator
from backend_stub.problems import PROBLEM_RESPONSES, ProblemError
from backend_stub.services.common import Context, idempotent_write, new_id, parse_iso
from backend_stub.services.payments import charges, core, health, invoices, refunds, staff, watch
from backend_stub.services.wire import (
    IDEMPOTENCY_KEY,
    IDENTIFIER,
    DigitString,
    PageLimit,
    SafeText,
    WaitSeconds,
    no_default,
)
from backend_stub.store import Row, Tx
from backend_stub.store import staff as staff_store

Status = Literal["approved", "declined", "pending"]
CURSOR = r"^[A-Za-z0-9_-]{1,64}$"  # base64url, as next_cursor gives it
VERSION = r"^[0-9a-f]{16}$"  # an invoice's `version`
DATE_TIME = {"format": "date-time"}


class PaymentRequestV2(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    quote_id: SafeText = Field(min_length=1, max_length=64)
    reference: SafeText = Field(min_length=1, max_length=64, description="the terminal's own sale reference")
    asset: SafeText = Field(min_length=1, max_length=16)
    amount_minor: DigitString = Field(description="crypto minor units as a string of digits")
    payload: SafeText = Field(min_length=1, max_length=4096, description="what the customer presented")


class PaymentV2(BaseModel):
    payment_id: str
    reference: str
    quote_id: str
    status: str
    reason: str | None
    method: str
    asset: str
    amount_minor: str
    fiat_minor: int
    fiat_currency: str
    refunded_minor: str
    created_at: str
    updated_at: str


class PaymentListV2(BaseModel):
    items: list[PaymentV2]
    next_cursor: str | None


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount_minor: DigitString = Field(description="at least 1; all refunds add up to at most the payment")
    to: SafeText = Field(min_length=1, max_length=512, description="the customer's receive address")
    # Optional, not nullable: left out when there is none; null is refused like any wrong type.
    # Typed without None for that, so mypy is told the default is a placeholder for "not sent".
    staff_id: staff.StaffId = Field(  # type: ignore[assignment]
        None, description="who asked for it at the till (recorded)", json_schema_extra=no_default
    )
    approval: staff.Approval = Field(  # type: ignore[assignment]
        None,
        description="a manager's approval; needed above the refund policy's threshold",
        json_schema_extra=no_default,
    )


class Refund(BaseModel):
    refund_id: str
    payment_id: str
    amount_minor: str
    to: str
    status: str
    created_at: str
    requested_by: str | None
    approved_by: str | None


class InvoiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    quote_id: SafeText = Field(min_length=1, max_length=64)
    reference: SafeText = Field(min_length=1, max_length=64, description="the terminal's own sale reference")
    kind: invoices.Kind


class Invoice(BaseModel):
    invoice_id: str
    payment_id: str
    reference: str
    kind: str
    uri: str = Field(description="what the terminal shows as a QR code")
    address: str = Field(description="receiving address (BOLT11: the payment hash)")
    asset: str
    amount_minor: str
    received_minor: str
    fiat_minor: int
    fiat_currency: str
    status: Literal["pending", "paid", "partially_paid", "overpaid", "expired", "late_paid"]
    payment_status: str
    expires_at: str
    created_at: str
    updated_at: str
    version: str = Field(description="changes whenever the invoice does; pass it as ?after= to wait")


class SimulatedPayment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount_minor: DigitString = Field(description="what the customer's wallet sends")


HEX16 = r"^[0-9a-fA-F]{32}$"


class TestCard(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    uid: str = Field(pattern=r"^[0-9a-fA-F]{14}$", description="the card's 7-byte UID, hex")
    k1: str = Field(pattern=HEX16, description="AES-128 key that decrypts p (often shared per issuer)")
    k2: str = Field(pattern=HEX16, description="this card's AES-128 CMAC key")


class TestWalletKey(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    key_id: SafeText = Field(min_length=1, max_length=32)
    public_key: str = Field(pattern=r"^[A-Za-z0-9_-]{43}$", description="raw Ed25519 key, base64url")


# A missing required key is answered 400 `idempotency-key-required` (backend_stub.problems).
RequiredKey = Annotated[
    str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY, description="required on every write")
]
OptionalKey = Annotated[
    str | None, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY, description="honoured when sent")
]
PaymentId = Annotated[str, Path(pattern=IDENTIFIER)]
InvoiceId = Annotated[str, Path(pattern=IDENTIFIER)]


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def _uncursor(text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(raw)
        return int(raw[1:])
    except ValueError:
        raise ProblemError(422, "invalid-parameter", "Invalid cursor", "use next_cursor as given") from None


def router(ctx: Context, auth: Authenticator) -> APIRouter:
    r = APIRouter(responses=PROBLEM_RESPONSES)
    Terminal = Annotated[str, Depends(auth)]
    # routes with an idempotency layer: an identical resend carrying a key is let through
    KeyedTerminal = Annotated[str, Depends(auth.keyed)]

    @r.post("/payments", status_code=201, response_model=PaymentV2)
    async def create_payment(
        body: PaymentRequestV2, request: Request, terminal: KeyedTerminal, idempotency_key: RequiredKey
    ) -> JSONResponse:
        return await charges.create(
            ctx,
            request,
            terminal=terminal,
            key=idempotency_key,
            body=body.model_dump(),
            amount_minor=lambda _code: int(body.amount_minor),
            render=core.doc_v2,
        )

    @r.get("/payments/{payment_id}", response_model=PaymentV2)
    async def get_payment(payment_id: PaymentId, terminal: Terminal) -> dict[str, Any]:
        row = await run_in_threadpool(
            ctx.store.query, lambda db: core.load_payment(db, payment_id, terminal=terminal)
        )
        return core.doc_v2(row)

    @r.get("/payments", response_model=PaymentListV2)
    async def list_payments(
        terminal: Terminal,
        reference: Annotated[SafeText | None, Query(min_length=1, max_length=64)] = None,
        status: Annotated[Status | None, Query()] = None,
        since: Annotated[
            str | None,
            Query(max_length=40, description="RFC 3339; created at or after", json_schema_extra=DATE_TIME),
        ] = None,
        limit: Annotated[PageLimit, Query()] = 20,
        cursor: Annotated[str | None, Query(pattern=CURSOR)] = None,
    ) -> dict[str, Any]:
        """Newest first. Status inquiry: ``?reference=R`` finds the terminal's own sale."""
        where: list[str] = ["terminal_id = ?"]
        args: list[str | float | int] = [terminal]
        if reference is not None:
            where.append("reference = ?")
            args.append(reference)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if since is not None:
            where.append("created_at >= ?")
            args.append(parse_iso(since))
        if cursor is not None:
            where.append("seq < ?")
            args.append(_uncursor(cursor))
        sql = f"SELECT * FROM payments WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"  # noqa: S608

        def find() -> list[Row]:
            return ctx.store.fetch_all(sql, (*args, limit + 1))

        rows = await run_in_threadpool(find)
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [core.doc_v2(row) for row in rows],
            "next_cursor": _cursor(int(rows[-1]["seq"])) if more else None,
        }

    @r.post("/payments/{payment_id}/refunds", status_code=201, response_model=Refund)
    async def refund(
        payment_id: PaymentId,
        body: RefundRequest,
        request: Request,
        terminal: KeyedTerminal,
        idempotency_key: RequiredKey,
    ) -> JSONResponse:
        """A refund within the backend's refund policy (docs/api.md, "Refunds")."""
        approval = body.approval
        checked = None
        if approval is not None:  # the slow PIN hash, before the write transaction
            checked = await run_in_threadpool(
                staff_store.precheck, ctx.store, approval.staff_id, approval.pin, now=ctx.now()
            )

        def work(db: Tx) -> tuple[int, dict[str, Any]]:
            return refunds.refund(
                db,
                ctx,
                terminal=terminal,
                payment_id=payment_id,
                amount=int(body.amount_minor),
                to=body.to,
                requested_by=body.staff_id,
                approval=None if approval is None or checked is None else (checked, approval.pin),
            )

        # The PIN is no part of what makes two requests the same (a hash of it would be a
        # 4-digit search away); the approver's id is. Fields not sent are left out, so a refund
        # without staff has the fingerprint it had before builds knew of staff.
        same = body.model_dump(exclude_none=True, exclude={"approval": {"pin"}})
        return await idempotent_write(
            ctx,
            request,
            terminal=terminal,
            key=idempotency_key,
            body=same,
            work=work,
            unstored=staff.APPROVAL_REFUSALS,
        )

    @r.post("/invoices", status_code=201, response_model=Invoice)
    async def create_invoice(
        body: InvoiceRequest, request: Request, terminal: KeyedTerminal, idempotency_key: OptionalKey = None
    ) -> JSONResponse:
        """A merchant-presented invoice for a quote; its payment starts ``pending``."""

        def work(db: Tx) -> tuple[int, dict[str, Any]]:
            q = core.load_quote(db, body.quote_id, terminal=terminal)
            core.check_quote(ctx, q, asset=q.asset, amount_minor=q.crypto_minor)
            invoices.check_kind(body.kind, q.asset)
            core.check_reference(db, terminal=terminal, reference=body.reference)
            invoice_id = new_id("inv")
            uri, address = invoices.build_uri(
                ctx, kind=body.kind, invoice_id=invoice_id, q=q, reference=body.reference
            )
            payment = core.insert_payment(
                db,
                ctx,
                terminal=terminal,
                reference=body.reference,
                q=q,
                method="invoice",
                status="pending",
                reason=None,
            )
            now = ctx.now()
            db.execute(
                "INSERT INTO invoices (invoice_id, payment_id, terminal_id, kind, uri, address, "
                "amount_minor, "
                "status, expires_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (
                    invoice_id,
                    payment["payment_id"],
                    terminal,
                    body.kind,
                    uri,
                    address,
                    str(q.crypto_minor),
                    q.expires_at,
                    now,
                    now,
                ),
            )
            inv = invoices.load(db, invoice_id, terminal=terminal)
            return 201, invoices.doc(inv, payment)

        return await idempotent_write(
            ctx, request, terminal=terminal, key=idempotency_key, body=body.model_dump(), work=work
        )

    board = watch.ChangeBoard()  # this instance's waiting tills, woken by its own changes

    @r.get("/invoices/{invoice_id}", response_model=Invoice)
    async def get_invoice(
        invoice_id: InvoiceId,
        terminal: Terminal,
        response: Response,
        wait: Annotated[
            WaitSeconds, Query(description="seconds to hold the request while the invoice is `after`")
        ] = 0,
        after: Annotated[
            str | None, Query(pattern=VERSION, description="the `version` the till has; needed to wait")
        ] = None,
    ) -> dict[str, Any]:
        """The invoice now; with ``wait`` and ``after``, once it is no longer at version ``after``
        (or after ``wait`` seconds, at most the instance's limit): a long-poll (docs/api.md)."""

        def look(db: Tx) -> dict[str, Any] | None:
            inv = invoices.load(db, invoice_id, terminal=terminal)
            if invoices.expiry_due(inv, now=ctx.now()):
                return None
            return invoices.doc(inv, core.load_payment(db, inv["payment_id"], terminal=terminal))

        def expire(db: Tx) -> dict[str, Any]:
            inv = invoices.refresh(
                db, invoices.load(db, invoice_id, terminal=terminal, lock=True), now=ctx.now()
            )
            return invoices.doc(inv, core.load_payment(db, inv["payment_id"], terminal=terminal))

        async def current() -> dict[str, Any]:
            # A poll is a read (tills poll twice a second); only an invoice whose time is up is
            # written, once, to expire it.
            seen = await run_in_threadpool(ctx.store.query, look)
            return seen if seen is not None else await run_in_threadpool(ctx.store.transaction, expire)

        doc = await current()
        wait_s = min(float(wait), ctx.settings.invoice_wait_max_s)
        if after is None or wait_s <= 0 or doc["version"] != after:
            return doc

        def peek(db: Tx) -> str | None:
            # one row, no write: a fresh full look only once something changed or expiry is due
            inv = invoices.load(db, invoice_id, terminal=terminal)
            return None if invoices.expiry_due(inv, now=ctx.now()) else invoices.version(inv)

        async def peek_async() -> str | None:
            return await run_in_threadpool(ctx.store.query, peek)

        started = time.monotonic()
        changed = await watch.wait_for_change(
            board,
            invoice_id,
            after=after,
            wait_s=wait_s,
            recheck_s=ctx.settings.invoice_recheck_s,
            peek=peek_async,
        )
        response.headers[watch.WAITED_HEADER] = f"{time.monotonic() - started:.3f}"
        return await current() if changed else doc

    @r.post("/invoices/{invoice_id}/simulate", response_model=Invoice, tags=["test mode"])
    async def simulate_payment(
        invoice_id: InvoiceId, body: SimulatedPayment, terminal: Terminal
    ) -> dict[str, Any]:
        """Test mode: the customer's wallet pays ``amount_minor`` to this invoice."""
        require_test_mode(ctx)

        def pay(db: Tx) -> dict[str, Any]:
            inv = invoices.load(db, invoice_id, terminal=terminal, lock=True)
            inv = invoices.receive(db, inv, int(body.amount_minor), now=ctx.now())
            return invoices.doc(inv, core.load_payment(db, inv["payment_id"], terminal=terminal))

        doc = await run_in_threadpool(ctx.store.transaction, pay)
        board.changed(invoice_id)  # committed: wake the tills waiting on it here
        return doc

    @r.post("/test/cards", status_code=201, tags=["test mode"])
    async def add_test_card(body: TestCard, terminal: Terminal) -> dict[str, Any]:
        """Test mode: issue a Bolt Card (its keys go to the shared store)."""
        require_test_mode(ctx)
        await run_in_threadpool(
            ctx.store.add_card, body.uid, k1=bytes.fromhex(body.k1), k2=bytes.fromhex(body.k2), now=ctx.now()
        )
        return {"uid": body.uid.upper(), "counter": -1}

    @r.post("/test/wallet-keys", status_code=201, tags=["test mode"])
    async def add_wallet_key(body: TestWalletKey, terminal: Terminal) -> dict[str, Any]:
        """Test mode: trust a wallet's Ed25519 key for its payment tokens."""
        require_test_mode(ctx)
        raw = base64.urlsafe_b64decode(body.public_key + "=")
        await run_in_threadpool(ctx.store.add_wallet_key, body.key_id, raw, now=ctx.now())
        return {"key_id": body.key_id}

    r.include_router(staff.router(ctx, auth))
    r.include_router(health.router(ctx, auth))
    return r


def require_test_mode(ctx: Context) -> None:
    if not ctx.settings.test_mode:
        raise ProblemError(404, "not-found", "Not Found", "test-mode endpoints are off")

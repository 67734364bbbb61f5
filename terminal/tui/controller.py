"""The register: the one object between the merchant screens and the I/O.

Screens send intents (``start_sale``, ``choose_asset``, ``cancel``...) and render what the
register emits; they never touch httpx, the journal or a driver. The register drives the
pure :class:`~terminal.domain.session.PaymentSession` itself (the same commands
:mod:`terminal.flow` interprets for the headless CLI), journals every step before the
network call that follows it, and reports back through one ``emit`` callback with
:class:`Update` values. Nothing here imports Textual, so it runs in any event loop.

Readers are blocking drivers: the register asks its host to run them
(:class:`ReadersRequested`) and gives it :meth:`Register.reader_loop`, which the TUI runs
in a thread worker; their events come back through :meth:`Register.reader_reported`.

Its values and errors (``RegisterError``, ``NotSupportedError``) live in
:mod:`terminal.tui.updates`.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote as urlquote

from drivers import CodeScanned, ReaderError, ReaderEvent, ReaderStateChanged, TagRead
from drivers.registry import DriverError, MissingExtraError, Reader, open_reader, probe_device
from terminal.client import (
    BackendClient,
    BackendError,
    BackendUnavailableError,
    OutcomeUnknownError,
    PaymentResult,
    UnsupportedError,
)
from terminal.config import LoadedSettings, effective_rows
from terminal.domain import session as s
from terminal.domain.money import ASSETS, Asset, Money, MoneyError, asset
from terminal.domain.quote import Quote
from terminal.sale import SaleCore, new_reference, offline_policy, reader_for
from terminal.journal import Journal, SaleRecord
from terminal.tui.updates import (
    BackendStatus,
    BackendUpdated,
    Check,
    DailyReport,
    InvoiceDesk,
    Notice,
    NoticeRaised,
    NotSupportedError,
    ReadersReleased,
    ReadersRequested,
    ReaderStatus,
    ReaderUpdated,
    Receipt,
    RegisterError,
    SaleUpdated,
    SaleView,
    Severity,
    Update,
)

# After this many quotes for one sale the register gives up (a feed that keeps expiring).
MAX_QUOTES = 5
INVOICE_SOURCE = "invoice"

# What the demo keys present, through a real simulated reader (drivers.sim).
DEMO_PAYLOADS: dict[str, tuple[str, str]] = {
    "tap": ("nfc", "cryptopos-test:card:approve"),
    "scan": ("qr", "cryptopos-test:wallet:approve"),
    # the shape of a Bolt Card tap (NTAG 424 SUN: p = encrypted UID+counter, c = CMAC)
    "boltcard": (
        "nfc",
        "lnurlw://demo.cryptopos.invalid/ln?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE",
    ),
    "decline": ("nfc", "cryptopos-test:card:decline"),
    # a QR that is not a payment (a wifi login): the till says so and keeps waiting
    "garbage": ("qr", "WIFI:S:cafe;T:WPA;P:not-a-payment;;"),
}
# What kind of code can receive a refund in each asset (terminal.domain.payloads kinds).
REFUND_KINDS = {
    "BTC": ("bitcoin",),
    "BTC-LN": ("bolt11", "lnurl"),
    "ETH": ("ethereum",),
    "USDC": ("ethereum",),
    "USDT": ("ethereum",),
    "SOL": ("solana_transfer",),
}


# -- the register ---------------------------------------------------------------------------


class Register:
    """One terminal's till: the current sale, the readers, the backend link, the journal."""

    def __init__(
        self,
        *,
        loaded: LoadedSettings,
        client: BackendClient | Callable[[], BackendClient],
        journal: Journal,
        clock: Callable[[], float] = time.time,
        reader_factory: Callable[..., Reader] = open_reader,
        invoices: InvoiceDesk | None = None,
        inquiry_attempts: int = 5,
        inquiry_delay_s: float = 0.2,
        demo: bool = False,
        reference_factory: Callable[[str], str] = new_reference,
        demo_card: Callable[[], str] | None = None,
        setup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.loaded = loaded
        self.reference_factory = reference_factory
        self.demo_card = demo_card  # the next tap of the demo Bolt Card
        self.setup = setup  # run once, when the backend first answers (the demo issues its card)
        self.settings = loaded.settings
        # a factory defers building the client (and importing an embedded backend) past first paint
        self._client = client if isinstance(client, BackendClient) else None
        self._client_factory = None if isinstance(client, BackendClient) else client
        self.journal = journal
        self.clock = clock
        self.reader_factory = reader_factory
        self.invoices = invoices
        self.inquiry_attempts = inquiry_attempts
        self.inquiry_delay_s = inquiry_delay_s
        self.demo = demo
        # the one sale core (terminal.flow) the headless CLI uses too; the register only shows it
        self.core = _TillSale(
            self,
            client=lambda: self.client,
            journal=journal,
            terminal_id=self.settings.terminal.id,
            offline=offline_policy(self.settings),
            clock=clock,
            inquiry_attempts=inquiry_attempts,
            inquiry_delay_s=inquiry_delay_s,
            max_quotes=MAX_QUOTES,
            reference_factory=reference_factory,
        )
        self.view = SaleView()
        self.backend = BackendStatus(url=self.settings.backend.url, queued=self._queued())
        self.readers: dict[str, ReaderStatus] = {}
        self._emit: Callable[[Update], None] = lambda _u: None
        self._generation = 0
        self._deadline: float | None = None
        self._lock = asyncio.Lock()

    @property
    def session(self) -> s.PaymentSession:
        """The current sale's session (owned by the sale core)."""
        return self.core.session

    # -- wiring ---------------------------------------------------------------------

    @property
    def client(self) -> BackendClient:
        if self._client is None:
            assert self._client_factory is not None
            self._client = self._client_factory()
        return self._client

    async def ensure_client(self) -> BackendClient:
        """Build the client off the event loop the first time (an embedded backend imports FastAPI)."""
        if self._client is None:
            assert self._client_factory is not None
            self._client = await asyncio.to_thread(self._client_factory)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def subscribe(self, emit: Callable[[Update], None]) -> None:
        self._emit = emit

    def accepted_assets(self) -> list[Asset]:
        return [ASSETS[c] for c in self.settings.terminal.accepted_assets]

    @property
    def currency(self) -> Asset:
        return ASSETS[self.settings.terminal.fiat_currency]

    def _publish(self, **changes: Any) -> None:
        self.view = replace(self.view, state=self.session.state, **changes)
        self._emit(SaleUpdated(self.view))

    def _notice(self, title: str, message: str, hint: str = "", severity: Severity = "warning") -> None:
        self._emit(NoticeRaised(Notice(title, message, hint, severity)))

    def _set_backend(self, **changes: Any) -> None:
        self.backend = replace(self.backend, **changes)
        self._emit(BackendUpdated(self.backend))

    def _queued(self) -> int:
        """Sales the till still owes the backend an answer for: unknown outcomes and the
        offline queue (forwarded when the backend is back)."""
        return len(self.journal.sales(states=("unknown_outcome", "offline_queued", "forwarding")))

    # -- backend link ---------------------------------------------------------------

    async def connect(self) -> BackendStatus:
        """Ask the backend what it serves; the answer drives the status bar."""
        try:
            await self.ensure_client()
            # the version the client negotiated (or was pinned to) is the one it speaks
            version = (await self.client.adapter()).version
            doc = await self.client.discover()
            if self.setup is not None:
                setup, self.setup = self.setup, None
                try:
                    await setup()
                except Exception as exc:  # the demo's extras must not keep the till offline
                    self._notice(
                        "Demo card not issued",
                        str(exc),
                        "the b key's Bolt Card will be declined; the other demo keys work",
                    )
        except BackendError as exc:
            self._set_backend(connected=False, detail=exc.message, queued=self._queued())
            return self.backend
        services = doc.get("services", {}) if isinstance(doc, dict) else {}
        raw_notices = doc.get("notices", []) if isinstance(doc, dict) else []
        notices = [
            str(n.get("text") or n.get("message") or n) if isinstance(n, dict) else str(n)
            for n in (raw_notices if isinstance(raw_notices, list) else [])
        ]
        notices += self._deprecations(services, version)
        self._set_backend(
            connected=True, api_version=version, notices=tuple(notices), detail="", queued=self._queued()
        )
        return self.backend

    @staticmethod
    def _deprecations(services: Any, version: str) -> list[str]:
        """'payments v1 deprecated, sunset 2027-06-30' for each service whose version we use is retiring."""
        out: list[tuple[str, str]] = []
        for name in ("rates", "payments"):
            versions = services.get(name, {}).get("versions", []) if isinstance(services, dict) else []
            for v in versions:
                if isinstance(v, dict) and v.get("version") == version and v.get("status") == "deprecated":
                    sunset = str(v.get("sunset", ""))[:10]
                    out.append((name, f" {version} deprecated" + (f", sunset {sunset}" if sunset else "")))
        if len(out) > 1 and len({text for _, text in out}) == 1:
            return [f"API{out[0][1]}"]  # both services retire it together: say it once
        return [name + text for name, text in out]

    def _mark_offline(self, detail: str) -> None:
        self._set_backend(connected=False, detail=detail, queued=self._queued())

    def _mark_online(self) -> None:
        if self.backend.connected is not True:
            self._set_backend(connected=True, detail="", queued=self._queued())

    # -- the sale -------------------------------------------------------------------

    def start_sale(self, base: Money, tip: Money | None = None) -> SaleView:
        """The cashier entered an amount (and maybe a tip)."""
        if self.session.state in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME):
            self.reset()
        total = base + tip if tip is not None else base
        try:
            self.core.enter(total)
        except s.SessionError as exc:
            raise RegisterError("Amount not taken", str(exc), "enter a positive amount") from None
        self._publish(base=base, tip=tip, total=total)
        return self.view

    async def choose_asset(self, code: str) -> None:
        """The customer picked what to pay with: the core journals the sale, then asks for a quote."""
        async with self._lock:
            crypto = asset(code)
            if crypto.code not in self.settings.terminal.accepted_assets:
                raise RegisterError(
                    "Asset not accepted",
                    f"{crypto.code} is not accepted here",
                    f"accepted: {', '.join(self.settings.terminal.accepted_assets)}",
                )
            total = self.view.total
            if total is None or self.session.state is not s.State.AMOUNT_ENTERED:
                raise RegisterError("No amount", "enter an amount first")
            await self.ensure_client()
            commands = self.core.open(crypto)  # journaled before the first network call
            self._publish(reference=self.core.reference, asset=crypto, reason=None)
            await self._run(self.core.drive(commands))

    async def present(self, payload: str, source: str) -> None:
        """A reader (or a paid invoice) presented a payment."""
        async with self._lock:
            if self.session.state is not s.State.AWAITING_PAYMENT:
                return  # a late tap after cancel or result: nothing to pay
            if source != INVOICE_SOURCE:
                from terminal.presentation import customer_refusal  # ~40 ms of parsers: not at startup

                refusal = customer_refusal(payload, now=self.clock())
                if refusal is not None:
                    # bad input loses nothing: the sale keeps waiting for a real payment
                    hint = "ask the customer to tap their card or show their wallet's payment QR"
                    if "asks to receive" in refusal:
                        hint += ", or scan the invoice QR on this screen"
                    self._notice("Not a payment code", refusal, hint, "error")
                    return
            await self._run(self.core.present(payload, source, self.clock()))

    async def cancel(self) -> None:
        async with self._lock:
            await self._run(self.core.cancel("cancelled by the cashier"))

    def reset(self) -> None:
        """Back to a fresh sale after a result."""
        if self.session.state not in (*s.FINAL_STATES, s.State.UNKNOWN_OUTCOME, s.State.IDLE):
            return
        self.core.reset()
        self._deadline = None
        self.view = SaleView()
        self._emit(SaleUpdated(self.view))

    async def tick(self) -> None:
        """Called about every second by the host: quote countdown, payment window, invoice status."""
        async with self._lock:
            if self.session.state is not s.State.AWAITING_PAYMENT:
                return
            now = self.clock()
            quote = self.session.quote
            assert quote is not None
            if self._deadline is not None and now >= self._deadline:
                await self._run(self.core.close_window())
                return
            if quote.expired(now):
                await self._run(self.core.expire_quote(now))
                return
            invoice = self.view.invoice
            if invoice is not None and self.invoices is not None:
                try:
                    fresh = await self.invoices.refresh(invoice)
                except BackendError as exc:
                    self._mark_offline(exc.message)
                    return
                if fresh != invoice:
                    self._publish(invoice=fresh)
                if fresh.status in ("paid", "overpaid", "late_paid"):
                    await self._run(self.core.present(f"invoice:{fresh.invoice_id}", INVOICE_SOURCE, now))

    def seconds_left(self) -> float | None:
        q = self.view.quote
        return None if q is None else q.seconds_left(self.clock())

    async def _run(self, step: Awaitable[None]) -> None:
        """One step of the core, then the view catches up with the session."""
        await step
        self._publish(
            quotes_requested=self.session.quotes_requested, reason=self.session.reason or self.view.reason
        )

    async def _issue_invoice(self) -> None:
        quote, reference = self.session.quote, self.core.reference
        if self.invoices is None or quote is None or reference is None:
            return
        # its own reference: the invoice books a pending payment, and a card tapped instead must
        # not collide with it (the backend refuses a second payment with one reference)
        try:
            invoice = await self.invoices.issue(
                quote=quote, reference=f"{reference}-inv{self.session.quotes_requested}"
            )
        except BackendError as exc:
            self._notice("No invoice QR", exc.message, "the customer can still tap or show a QR", "warning")
            return
        self._publish(invoice=invoice)

    async def reconcile(self) -> int:
        """Settle what the till owes the backend an answer for (unknown outcomes) and forward the
        offline queue, each exactly once (:func:`terminal.settlement.reconcile`). A sale still
        waiting for a tap is left alone. Returns how many settled or were forwarded."""
        from terminal.settlement import reconcile

        async with self._lock:
            try:
                await self.ensure_client()
                report = await reconcile(
                    client=self.client, journal=self.journal, clock=self.clock, idle_s=float("inf")
                )
            except BackendError as exc:
                self._mark_offline(exc.message)
                return 0
            stuck = [why for why in report.left.values() if "backend" in why]
            if stuck and not (report.settled or report.forwarded):
                self._mark_offline(stuck[0])
            elif report.settled or report.forwarded:
                self._mark_online()
            current = self.core.reference
            if current is not None and self.session.state is s.State.UNKNOWN_OUTCOME:
                record = self.journal.get(current)
                if record is not None and record.state in ("approved", "declined", "failed"):
                    if record.state == "approved":
                        event: s.Event = s.PaymentApproved(record.payment_id or "")
                    else:  # declined, or never arrived (failed: not charged)
                        event = s.PaymentDeclined(record.reason or record.state, record.payment_id)
                    self.session.handle(event)
                    self._publish(payment_id=record.payment_id, inquiry=None, finished_at=self.clock())
            self._set_backend(queued=self._queued())
            return len(set(report.settled) | set(report.forwarded))

    # -- readers ---------------------------------------------------------------------

    def reader_loop(self, device: str, sink: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
        """Run one reader until ``stop`` is set. Blocking: the host runs it in a thread worker.
        Opening it there keeps heavy imports (nfcpy, OpenCV) off the screen's thread."""
        try:
            reader = reader_for(device, self.reader_factory, clock=self.clock)
        except MissingExtraError as exc:
            sink(
                ReaderError(
                    reader=device,
                    title="Reader library missing",
                    message=str(exc),
                    hint=f"install it: pip install 'cryptopos[{exc.extra}]'",
                    code="missing_extra",
                )
            )
            return
        except DriverError as exc:
            sink(
                ReaderError(
                    reader=device,
                    title="Reader not available",
                    message=str(exc),
                    hint="check terminal.readers in the configuration (Settings, key 8)",
                    code="bad_device",
                )
            )
            return
        except Exception as exc:  # a driver bug must become a notice, not a crash of the till
            sink(
                ReaderError(
                    reader=device,
                    title="Reader failed to open",
                    message=f"{type(exc).__name__}: {exc}",
                    hint="unplug and replug the reader, then start the sale again",
                    code="open_failed",
                )
            )
            return
        try:
            reader.start(sink)
            stop.wait()
        except Exception as exc:
            sink(
                ReaderError(
                    reader=device,
                    title="Reader stopped",
                    message=f"{type(exc).__name__}: {exc}",
                    hint="the other readers still work; restart the terminal if it persists",
                    code="crashed",
                )
            )
        finally:
            reader.stop()

    def reader_reported(self, event: ReaderEvent) -> tuple[str, str] | None:
        """Book a reader's event. Returns ``(payload, source)`` when it is a payment to present."""
        if isinstance(event, ReaderStateChanged):
            self._reader_state(event.reader, event.state.value, event.detail)
            return None
        if isinstance(event, ReaderError):
            self._reader_state(event.reader, "error", event.title)
            self._notice(event.title, event.message, event.hint, "error")
            return None
        if isinstance(event, TagRead | CodeScanned):
            return event.payload, event.reader
        return None

    def _reader_state(self, device: str, state: str, detail: str) -> None:
        status = ReaderStatus(device, state, detail)
        self.readers[device] = status
        self._emit(ReaderUpdated(status))

    def demo_device(self, kind: str) -> str | None:
        """The one-shot simulated reader a demo key opens, or ``None`` when nothing is awaited."""
        if kind not in DEMO_PAYLOADS or self.session.state is not s.State.AWAITING_PAYMENT:
            return None
        family, payload = DEMO_PAYLOADS[kind]
        if kind == "boltcard" and self.demo_card is not None:
            payload = self.demo_card()  # a fresh SUN tap of the card the backend issued
        return f"sim:{family}?payload={urlquote(payload, safe='')}&delay=0"

    # -- history, refunds, report, settings --------------------------------------------

    def history(
        self, *, state: str | None = None, asset_code: str | None = None, text: str = ""
    ) -> list[SaleRecord]:
        records = self.journal.sales(states=(state,) if state else None)
        out = [
            r
            for r in records
            if (asset_code is None or r.asset == asset_code)
            and (not text or text.lower() in f"{r.reference} {r.payment_id or ''}".lower())
        ]
        return list(reversed(out))

    def detail(self, reference: str) -> tuple[SaleRecord, list[str]]:
        record = self.journal.get(reference)
        if record is None:
            raise RegisterError("No such sale", f"{reference} is not in the journal")
        return record, self.journal.events(reference)

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
        key = idempotency_key_for(reference, f"refund:{address}")
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

    def daily_report(self, *, day: str | None = None) -> DailyReport:
        """Totals of one UTC day (default: today by the register's clock), from the journal."""
        day = day or datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")
        counts = dict.fromkeys(("approved", "declined", "expired", "cancelled", "unknown_outcome"), 0)
        totals: dict[str, Money] = {}
        by_asset: dict[str, Money] = {}
        for r in self.journal.sales():
            if datetime.fromtimestamp(r.created_at, UTC).strftime("%Y-%m-%d") != day:
                continue
            state = "approved" if r.state == "refunded" else r.state
            if state in counts:
                counts[state] += 1
            if state == "approved":
                fiat = Money(r.fiat_minor, ASSETS[r.fiat_currency])
                totals[r.fiat_currency] = totals.get(r.fiat_currency, Money(0, fiat.asset)) + fiat
                if r.crypto_minor is not None and r.asset in ASSETS:
                    c = Money(r.crypto_minor, ASSETS[r.asset])
                    by_asset[r.asset] = by_asset.get(r.asset, Money(0, c.asset)) + c
        return DailyReport(
            day,
            counts["approved"],
            counts["declined"],
            counts["expired"],
            counts["cancelled"],
            counts["unknown_outcome"],
            totals,
            by_asset,
        )

    def settings_rows(self) -> list[tuple[str, str, str]]:
        return effective_rows(self.loaded)

    async def doctor(self) -> list[Check]:
        """What the settings screen shows: is every part of the till usable."""
        checks: list[Check] = []
        status = await self.connect()
        checks.append(
            Check(
                "backend",
                bool(status.connected),
                f"{status.url}: API {status.api_version}"
                if status.connected
                else f"unreachable: {status.detail}",
            )
        )
        try:
            checks.append(
                Check("journal", True, f"{self.journal.path} (schema v{self.journal.schema_version})")
            )
        except Exception as exc:
            checks.append(Check("journal", False, f"{type(exc).__name__}: {exc}"))
        devices = list(self.settings.terminal.readers)
        # opening a device may take a moment (and import nfcpy or OpenCV): not on the screen's loop
        probes = await asyncio.to_thread(lambda: [probe_device(d) for d in devices])
        for probe in probes:
            detail = probe.detail if probe.ok or not probe.hint else f"{probe.detail} → {probe.hint}"
            checks.append(Check(f"reader {probe.device}", probe.ok, detail))
        checks.append(
            Check("queued sales", self._queued() == 0, f"{self._queued()} unknown or stored offline")
        )
        return checks

    def receipt(self) -> Receipt | None:
        """The receipt of the current (finished) sale."""
        v = self.view
        if v.total is None or v.reference is None or v.state not in (s.State.APPROVED, s.State.DECLINED):
            return None
        quote = v.quote
        # No receipt page exists in the API yet: the QR carries the ids a back office looks up.
        link = f"cryptopos:receipt?payment={v.payment_id or ''}&reference={v.reference}"
        return Receipt(
            merchant=self.settings.merchant.name,
            terminal=self.settings.terminal.id,
            at=v.finished_at or self.clock(),
            status=v.state.value,
            fiat=v.total,
            tip=v.tip,
            crypto=quote.crypto if quote else None,
            rate=str(quote.rate) if quote else None,
            quote_id=quote.quote_id if quote else None,
            payment_id=v.payment_id,
            reference=v.reference,
            link=link,
        )


class _TillSale(SaleCore):
    """The sale core with the register as its face: every hook becomes a view or status update."""

    cancel_on_refused_quote = False  # back to the asset choice; the next choice opens a new sale

    def __init__(self, register: Register, **options: Any) -> None:
        super().__init__(**options)
        self.register = register

    async def start_readers(self) -> None:
        r = self.register
        r._generation += 1
        r._emit(ReadersRequested(tuple(r.settings.terminal.readers), r._generation))
        await r._issue_invoice()

    def stop_readers(self) -> None:
        self.register._emit(ReadersReleased(self.register._generation))

    def was_settled_elsewhere(self, state: str) -> None:
        # said before the session moves on: a calm notice with the sale's state, not an error
        self.register._notice(
            "Sale already settled",
            f"it was settled elsewhere (reconcile) first: it is {state}",
            "nothing more to do here; see History",
            "information",
        )

    async def await_payment(self, expires_at: float) -> list[s.Command]:
        r = self.register
        if r._deadline is None:  # the payment window spans re-quotes
            r._deadline = r.clock() + r.settings.timeouts.payment_wait_s
        return []  # ticks and reader workers call present / expire_quote / close_window

    def notice(self, message: str) -> None:
        super().notice(message)
        self.register._notice("Sale", message, severity="information")

    def finished(self) -> None:
        r = self.register
        r._publish(finished_at=r.clock())
        r._set_backend(queued=r._queued())  # a sale stored offline joins the queue

    def quoting(self) -> None:
        self.register._publish(quote=None, invoice=None)

    def quote_received(self, quote: Quote) -> None:
        self.register._publish(quote=quote)

    def submitting(self, source: str) -> None:
        self.register._publish(source=source)

    def quote_failed(self, exc: BackendError) -> None:
        unreachable = isinstance(exc, BackendUnavailableError)
        hint = "check the backend (status bar) and try again"
        if not unreachable:
            hint = "pick another asset or amount"
        self.register._notice(exc.title, exc.message, hint, "error")
        # back to asset choice: the journaled sale is closed, the next choice opens another
        self.register._publish(reference=None, reason=exc.message)

    def link(self, *, up: bool, detail: str = "") -> None:
        if up:
            self.register._mark_online()
        else:
            self.register._mark_offline(detail)

    def unknown(self, why: str) -> None:
        self.register._publish(inquiry="No answer: asking the backend what happened")

    def inquiring(self, attempt: int, attempts: int) -> None:
        r = self.register
        r._set_backend(queued=r._queued())
        r._publish(inquiry=f"Asking the backend what happened ({attempt}/{attempts})")

    def left_unknown(self) -> None:
        self.register._publish(
            inquiry="Queued: the terminal keeps asking in the background and settles it when the "
            "backend answers. Do not take this payment again."
        )

    def settled(self, result: PaymentResult) -> None:
        r = self.register
        r._publish(payment_id=result.payment_id, inquiry=None)
        r._set_backend(queued=r._queued())

    async def paid_elsewhere(self, payload: str, source: str) -> PaymentResult | None:
        if source != INVOICE_SOURCE:
            return None
        invoice = self.register.view.invoice
        assert invoice is not None and invoice.payment_id is not None
        return PaymentResult(invoice.payment_id, self.reference or "", "approved", None)


def idempotency_key_for(reference: str, salt: str) -> str:
    """Derived from the journaled sale and what it pays (a quote, a refund): the same on every retry."""
    return hashlib.sha256(f"{reference}|{salt}".encode()).hexdigest()[:32]


def parse_money(text: str, currency: Asset) -> Money:
    """A typed amount, or a :class:`RegisterError` saying what is wrong with it."""
    try:
        return Money.parse(text, currency)
    except MoneyError as exc:
        raise RegisterError(
            "Amount not taken", str(exc), "type digits and at most one decimal point"
        ) from None


def tip_of(base: Money, percent: int) -> Money:
    """A percentage tip, rounded half up to the currency's minor unit."""
    return Money((base.minor * percent + 50) // 100, base.asset)


__all__ = ["Register", "idempotency_key_for", "parse_money", "tip_of"]

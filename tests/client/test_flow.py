"""The SaleRunner: quotes shown with their expiry, re-quoted before an expired one is submitted,
refused quotes shown to the cashier, replayed taps refused, every step journaled."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from drivers.sim import SimReader, Step
from terminal.domain.money import Money, asset
from terminal.domain.session import SessionError
from terminal.journal import Journal, payload_hash
from terminal.sale import SaleRunner
from tests.client.helpers import Backend, Sleeps, make_client

EUR, BTC, LN = asset("EUR"), asset("BTC"), asset("BTC-LN")
CARD = "lnurlw://card.example/ln?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE"


def readers(*delays_and_payloads: tuple[float, str]):  # type: ignore[no-untyped-def]
    """A reader factory: the n-th reader started taps once with the n-th (delay, payload)."""
    plan = list(delays_and_payloads)

    def factory(device: str) -> SimReader:
        delay, payload = plan.pop(0)
        return SimReader(device, "nfc", [Step(payload, delay)])

    return factory


async def sale(backend: Backend, journal: Journal, factory, crypto=BTC, **kw):  # type: ignore[no-untyped-def]
    async with make_client(backend.transport(), Sleeps()) as c:
        runner = SaleRunner(
            client=c,
            journal=journal,
            terminal_id="t",
            readers=["sim:nfc"],
            payment_wait_s=10,
            reader_factory=factory,
            inquiry_delay_s=0,
            **kw,
        )
        return await runner.run(Money(1250, EUR), crypto)


async def test_a_tap_on_a_nearly_expired_quote_re_quotes_first(tmp_path: Path) -> None:
    # quotes live 2.3 s; the flow keeps a 2 s margin, so a tap after 0.5 s is too late for the first
    backend = Backend(tmp_path / "ledger.sqlite3", quote_ttl_s=2.3)
    journal = Journal(tmp_path / "j.sqlite3")
    report = await sale(
        backend, journal, readers((0.5, "cryptopos-test:card:approve"), (0.0, "cryptopos-test:card:approve"))
    )
    assert report.status == "approved"
    first, second = backend.quotes()
    [paid] = backend.payments()
    assert paid["quote_id"] == second["quote_id"] != first["quote_id"]  # never the expired one
    assert any("Quote expired" in n for n in report.notices)
    assert any("valid for" in n for n in report.notices)  # the cashier sees the expiry
    assert report.quote_expires_at == pytest.approx(second["expires_at"], abs=0.001)


async def test_a_refused_quote_is_shown_and_nothing_is_charged(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            json={
                "type": "https://cryptopos.dev/problems/rate-sources-diverge",
                "title": "Rate sources diverge",
                "detail": "sources disagree by 4.1%",
            },
            headers={"Retry-After": "30"},
        )

    async with make_client(httpx.MockTransport(refuse), Sleeps()) as c:
        runner = SaleRunner(client=c, journal=journal, terminal_id="t", readers=["sim:nfc"], payment_wait_s=2)
        report = await runner.run(Money(1250, EUR), BTC)
    assert report.status == "cancelled"
    assert report.reason is not None and "Rate sources diverge" in report.reason and "4.1%" in report.reason
    assert report.crypto is None
    assert journal.get(report.reference).state == "cancelled"  # type: ignore[union-attr]


async def test_a_replayed_card_tap_is_refused_before_the_backend_sees_it(tmp_path: Path) -> None:
    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    first = await sale(backend, journal, readers((0.0, "cryptopos-test:card:approve")))
    # a Bolt Card pays over Lightning: a BTC-LN sale
    replay = await sale(backend, journal, readers((0.0, CARD)), LN)
    second = await sale(backend, journal, readers((0.0, CARD)), LN)
    assert first.status == "approved"
    assert (second.status, second.reason) == ("declined", "replayed_tap")
    assert replay.status in ("approved", "declined")  # the backend judged the first tap of CARD
    assert len(backend.payments()) == 2  # the replayed tap never reached it
    rec = journal.get(second.reference)
    assert rec is not None and rec.state == "declined" and rec.payment_id is None


async def test_the_sale_is_journaled_before_the_network(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    seen: list[list[str]] = []

    def record(request: httpx.Request) -> httpx.Response:
        # at the moment of each request, what does the journal already hold?
        seen.append([s.state for s in journal.sales()])
        return httpx.Response(503, json={"title": "down"})

    async with make_client(httpx.MockTransport(record), Sleeps()) as c:
        runner = SaleRunner(client=c, journal=journal, terminal_id="t", readers=["sim:nfc"], payment_wait_s=2)
        await runner.run(Money(1250, EUR), BTC)
    assert seen and seen[0] == ["amount_entered"]


def wallet_token(*, expires_in: float, nonce: bytes) -> str:
    import time as _time

    from terminal.domain.payloads import sign_token

    return sign_token(
        private_key=bytes(range(32)),
        key_id="w1",
        wallet_id="wallet-7",
        asset="BTC",
        nonce=nonce,
        expires_at=int(_time.time() + expires_in),
    )


async def test_a_replayed_wallet_token_and_an_expired_one_never_reach_the_backend(tmp_path: Path) -> None:
    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    token = wallet_token(expires_in=300, nonce=b"\x01" * 16)
    first = await sale(backend, journal, readers((0.0, token)))
    assert first.status in ("approved", "declined")  # the backend judged it
    again = await sale(backend, journal, readers((0.0, token)))
    assert (again.status, again.reason) == ("declined", "replayed_tap")
    stale = await sale(backend, journal, readers((0.0, wallet_token(expires_in=-10, nonce=b"\x02" * 16))))
    assert (stale.status, stale.reason) == ("declined", "expired_token")
    assert len(backend.payments()) == 1


async def test_a_sale_closed_by_reconcile_elsewhere_is_never_sent(tmp_path: Path) -> None:
    from terminal.settlement import reconcile

    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    other = Journal(tmp_path / "j.sqlite3")  # another process on the same journal

    async with make_client(backend.transport(), Sleeps()) as c:

        def factory(device: str) -> SimReader:
            return SimReader(device, "nfc", [Step("cryptopos-test:card:approve", 0.3)])

        runner = SaleRunner(
            client=c,
            journal=journal,
            terminal_id="t",
            readers=["sim:nfc"],
            payment_wait_s=10,
            reader_factory=factory,
        )
        import asyncio

        task = asyncio.create_task(runner.run(Money(1250, EUR), BTC))
        await asyncio.sleep(0.15)  # the runner waits for the tap
        early = await reconcile(client=c, journal=other, idle_s=60)
        assert early.settled == {} and len(early.left) == 1  # a live sale is left alone by default
        closed = await reconcile(client=c, journal=other, idle_s=0)
        assert list(closed.settled.values()) == ["cancelled"]
        report = await task
    assert report.status == "cancelled" and "closed elsewhere" in (report.reason or "")
    assert backend.payments() == []


@pytest.mark.parametrize(("minor", "word"), [(4008, "stale"), (4009, "disagree")])
async def test_the_real_backend_refusing_to_quote_cancels_the_sale_with_its_reason(
    tmp_path: Path, minor: int, word: str
) -> None:
    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    sleeps = Sleeps()
    async with make_client(backend.transport(), sleeps, api_version="auto") as c:
        runner = SaleRunner(client=c, journal=journal, terminal_id="t", readers=["sim:nfc"], payment_wait_s=2)
        report = await runner.run(Money(minor, EUR), BTC)
    assert report.status == "cancelled" and report.crypto is None
    assert (
        report.reason is not None and report.reason.startswith("No quote:") and word in report.reason.lower()
    )
    assert sleeps.calls == [] and backend.payments() == []


async def test_a_lost_answer_settled_by_the_client_is_journaled_as_unknown_then_settled(
    tmp_path: Path,
) -> None:
    # the emulator commits this payment and then drops the answer; the client asks by reference
    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    report = await sale(backend, journal, readers((0.0, "cryptopos-test:card:unknown")))
    assert report.status == "approved"
    assert journal.events(report.reference) == [
        "amount_entered",
        "awaiting_payment",
        "submitting",
        "unknown_outcome",
        "approved",
    ]
    steps = dict(journal.timeline(report.reference))
    assert "asking the backend by reference" in (steps["unknown_outcome"] or "")
    assert steps["approved"] == "settled by a status inquiry"
    [paid] = backend.payments()
    assert paid["reference"] == report.reference and paid["payment_id"] == report.payment_id
    assert any("answer was lost" in n for n in report.notices)


async def test_a_camera_hands_only_payment_codes_to_the_sale(tmp_path: Path) -> None:
    # a loyalty card and the customer's receive address are in view before the payment QR:
    # the camera (real OpenCV capture of an image sequence) rejects them, the sale pays once
    from drivers import open_reader
    from drivers.camera import synth

    loyalty = "LOYALTY:cafe-club:4711-0042"
    address = "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.001"
    frames = [synth.frame(640, 480, None, seed=0)] * 2
    frames += [synth.frame(640, 480, loyalty, seed=1)] * 3
    frames += [synth.frame(640, 480, address, seed=2)] * 3
    frames += [synth.frame(640, 480, "cryptopos-test:card:approve", seed=3)] * 3
    pattern = synth.write_sequence(tmp_path / "seq", frames)
    backend = Backend(tmp_path / "ledger.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    async with make_client(backend.transport(), Sleeps()) as c:
        runner = SaleRunner(
            client=c,
            journal=journal,
            terminal_id="t",
            readers=[f"camera:file:{pattern}?realtime=0"],
            payment_wait_s=20,
            reader_factory=open_reader,
            inquiry_delay_s=0,
        )
        report = await runner.run(Money(1250, EUR), BTC)
    assert report.status == "approved" and report.source is not None
    assert report.source.startswith("camera:file:")
    [paid] = backend.payments()  # the codes that are not payments never reached the backend
    assert paid["reference"] == report.reference
    record = journal.get(report.reference)
    assert record is not None and record.payload_hash == payload_hash("cryptopos-test:card:approve")
    rejected = [n for n in report.notices if "rejected" in n.lower() or "not a payment" in n.lower()]
    assert len(rejected) == 2, report.notices


async def test_the_tip_and_the_paid_quotes_rate_are_journaled(tmp_path: Path) -> None:
    # a re-quote (the first tap is too late for the first quote): the rate kept is the one paid at
    backend = Backend(tmp_path / "ledger.sqlite3", quote_ttl_s=2.3)
    journal = Journal(tmp_path / "j.sqlite3")
    factory = readers((0.5, "cryptopos-test:card:approve"), (0.0, "cryptopos-test:card:approve"))
    async with make_client(backend.transport(), Sleeps()) as c:
        runner = SaleRunner(
            client=c, journal=journal, terminal_id="t", readers=["sim:nfc"], reader_factory=factory
        )
        report = await runner.run(Money(1375, EUR), BTC, tip=Money(125, EUR))
        assert report.status == "approved"
        _, paid_quote = backend.quotes()
        row = journal.get(report.reference)
        assert row is not None and (row.tip_minor, row.fiat_minor) == (125, 1375)
        assert row.rate == report.rate == paid_quote["rate"] and row.quote_id == paid_quote["quote_id"]
        assert report.to_json()["tip"] == {"amount": "1.25", "minor": 125}
        # no tip is a known zero (NULL stays for sales journaled before tips were)
        runner = SaleRunner(
            client=c,
            journal=journal,
            terminal_id="t",
            readers=["sim:nfc"],
            reader_factory=readers((0.0, "cryptopos-test:card:approve")),
        )
        plain = await runner.run(Money(500, EUR), BTC)
        row = journal.get(plain.reference)
        assert row is not None and row.tip_minor == 0 and row.rate == plain.rate is not None
        with pytest.raises(SessionError, match="does not fit"):
            await runner.run(Money(500, EUR), BTC, tip=Money(501, EUR))
        with pytest.raises(SessionError, match="does not fit"):
            await runner.run(Money(500, EUR), BTC, tip=Money(1, asset("JPY")))
    journal.close()

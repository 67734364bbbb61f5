"""The emulated payments service declines a payload it cannot tie to the quoted asset instead of
approving it: a customer's receive address or invoice is no payment, a Lightning card pays only a
Lightning (BTC-LN) quote, a wallet token only its own asset. The test cards still decide by name."""

from __future__ import annotations

import pytest

from backend_stub.store import Store

from .conftest import Api
from .test_backend_customer_payloads import issue, pay, tap

RECEIVE_CODES = [
    "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=1",
    "ethereum:0x52908400098527886E0F7030069857D2E4169EE7@1?value=1e15",
    "0x52908400098527886E0F7030069857D2E4169EE7",
]


@pytest.mark.parametrize("payload", RECEIVE_CODES)
@pytest.mark.parametrize("quoted", ["ETH", "BTC"])
async def test_a_receive_address_is_declined_whatever_the_asset(
    api: Api, store: Store, payload: str, quoted: str
) -> None:
    out = await pay(api, payload, key=f"r-{quoted}-{len(payload)}", asset=quoted)
    assert (out["status"], out["reason"]) == ("declined", "not_a_payment")
    row = store.fetch_one("SELECT status FROM payments WHERE payment_id = ?", (out["payment_id"],))
    assert row is not None and row["status"] == "declined"  # booked as declined, never as a charge


async def test_a_bolt_card_pays_only_a_lightning_quote(api: Api) -> None:
    await issue(api)
    on_chain = await pay(api, tap(1), key="b1", asset="BTC")
    assert (on_chain["status"], on_chain["reason"]) == ("declined", "asset_mismatch")
    # the mismatch did not use up the tap's counter: the same card pays a BTC-LN quote
    lightning = await pay(api, tap(1), key="b2", asset="BTC-LN")
    assert (lightning["status"], lightning["method"]) == ("approved", "boltcard")


async def test_an_lnurl_withdraw_link_pays_only_a_lightning_quote(api: Api) -> None:
    link = "lnurlw://wallet.example/withdraw?k1=0123456789abcdef"
    assert (await pay(api, link, key="l1", asset="ETH"))["reason"] == "asset_mismatch"
    assert (await pay(api, link, key="l2", asset="BTC-LN"))["status"] == "approved"


@pytest.mark.parametrize("asset", ["BTC", "ETH", "SOL", "BTC-LN"])
async def test_the_test_cards_still_work_for_every_asset(api: Api, asset: str) -> None:
    assert (await pay(api, "cryptopos-test:card:approve", key=f"t-{asset}", asset=asset))[
        "status"
    ] == "approved"
    declined = await pay(api, "cryptopos-test:card:decline", key=f"d-{asset}", asset=asset)
    assert declined["reason"] == "card_declined"

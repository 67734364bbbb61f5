"""Closing a client on the embedded backend closes the deployment its transport owns: the
temporary ledger folder is removed then, not by a finalizer that warns (an error in tests)."""

from __future__ import annotations

import gc
import warnings

from backend_stub.embedded import EmbeddedTransport
from terminal.client import BackendClient, backend_transport
from terminal.domain.money import Money, asset

KEY_ID, SECRET = "t_close", b"close-secret-0123456789"


async def test_closing_the_client_removes_the_embedded_ledger_without_a_warning() -> None:
    transport = backend_transport("embedded", key_id=KEY_ID, secret=SECRET)
    assert isinstance(transport, EmbeddedTransport)
    store = transport.deployment.store
    assert store is not None
    assert store.url.path is not None
    folder = store.url.path.parent  # the ledger and its side files (.replay, -wal, -shm)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with BackendClient(base_url="embedded", key_id=KEY_ID, secret=SECRET, transport=transport) as c:
            quote = await c.quote(Money.parse("3.00", "EUR"), asset("BTC"))
            paid = await c.create_payment(
                quote=quote, reference="close-1", payload="tap", idempotency_key="close-1"
            )
            assert paid.status == "approved"
            assert folder.is_dir()  # the deployment's temporary ledger, while it is open
        assert not folder.exists()  # removed by the close, not later by a finalizer
        del transport, c
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]

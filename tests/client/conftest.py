from __future__ import annotations

import httpx
import pytest

from backend_stub.app import create_app
from backend_stub.state import BackendState
from tests.client.helpers import KEY_ID, SECRET, Sleeps


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def backend_state() -> BackendState:
    return BackendState(keys={KEY_ID: SECRET})


@pytest.fixture
def stub_transport(backend_state: BackendState) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=create_app(backend_state))

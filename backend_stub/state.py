"""The backend's shared state: keys, rate feed, quotes, payments, idempotency records.

In-process and in memory for the walking skeleton; the state is one object passed to
``create_app(state)`` so several app instances can share it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Mid prices in USD and FX rates to USD; the feed jitters around them under a seed.
BASE_USD = {
    "BTC": Decimal("97250.00"),
    "BTC-LN": Decimal("97250.00"),
    "ETH": Decimal("3412.50"),
    "USDC": Decimal("1.0000"),
    "USDT": Decimal("1.0000"),
    "SOL": Decimal("182.40"),
}
USD_PER_FIAT = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.0850"),
    "GBP": Decimal("1.2700"),
    "CHF": Decimal("1.1300"),
    "JPY": Decimal("0.006700"),
    "KWD": Decimal("3.2500"),
}


@dataclass
class StoredQuote:
    quote_id: str
    fiat_minor: int
    fiat_currency: str
    asset: str
    crypto_minor: int
    rate: Decimal
    spread_bps: int
    issued_at: float
    expires_at: float


@dataclass
class StoredPayment:
    payment_id: str
    reference: str
    quote_id: str
    asset: str
    crypto_minor: int
    fiat_minor: int
    fiat_currency: str
    status: str
    reason: str | None
    created_at: float
    terminal_id: str


@dataclass
class BackendState:
    keys: dict[str, bytes] = field(default_factory=dict)  # key id -> HMAC secret
    seed: int = 7
    spread_bps: int = 100
    quote_ttl_s: float = 60.0
    clock: Callable[[], float] = time.time
    quotes: dict[str, StoredQuote] = field(default_factory=dict)
    payments: dict[str, StoredPayment] = field(default_factory=dict)
    by_reference: dict[str, str] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    nonces: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(init=False)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - deterministic by design

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self._counter += 1
            bits = self._rng.getrandbits(48)
            return f"{prefix}_{bits:012x}{self._counter:06d}"

    def mid_rate(self, asset: str, fiat: str) -> Decimal:
        """Fiat per one unit of the asset: deterministic under the seed, jittering ±0.2%."""
        step = self._rng.randint(-20, 20)
        jitter = Decimal(step) / Decimal(10_000)
        return BASE_USD[asset] / USD_PER_FIAT[fiat] * (1 + jitter)

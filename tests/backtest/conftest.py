"""Backtests on the real parts: a migrated Postgres holding strategies and candles, and the
simulator the strategy tests trade on (``sim``, for parity with the SHADOW live path)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
import pytest
from kairos.marketdata import store as candle_store
from kairos.runtime.db import migrate
from kairos.strategies import store
from kairos.strategies.language import parse
from kairos.venues.binance_usdm import VENUE
from kairos_testkit.strategies import BTC, ETH, MIN, history_sim
from kairos_testkit.venue_sim import VenueSimHandle

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> str:
    migrate(database_url)
    return database_url


@pytest.fixture(scope="module")
def sim() -> Iterator[VenueSimHandle]:
    """300 closed 1 m candles (``kairos_testkit.strategies.history_sim``)."""
    with history_sim() as handle:
        yield handle


def walk(n: int, seed: int, start_price: float = 100.0) -> list[tuple[float, float, float, float]]:
    """A seeded random walk of (open, high, low, close), prices rounded to cents."""
    rng = np.random.default_rng(seed)
    close = np.round(start_price * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 2)
    # each open a little off the previous close (a gap), so "next open" and "close" fills differ
    open_ = np.round(np.concatenate(([start_price], close[:-1])) * (1 + rng.normal(0, 0.0005, n)), 2)
    high = np.round(np.maximum(open_, close) * 1.001, 2)
    low = np.round(np.minimum(open_, close) * 0.999, 2)
    return list(zip(open_.tolist(), high.tolist(), low.tolist(), close.tolist(), strict=True))


def store_candles(url: str, symbol: str, rows: list[tuple[float, float, float, float]], start: datetime = START,
                  timeframe: str = "1m", step_ms: int = MIN) -> None:  # fmt: skip
    t0 = int(start.timestamp() * 1000)
    out = []
    for i, (o, h, lo, c) in enumerate(rows):
        t = datetime.fromtimestamp((t0 + i * step_ms) / 1000, UTC)
        close_t = datetime.fromtimestamp((t0 + (i + 1) * step_ms - 1) / 1000, UTC)
        out.append((t, close_t, Decimal(str(o)), Decimal(str(h)), Decimal(str(lo)), Decimal(str(c)), Decimal(1),
                    None, None))  # fmt: skip
    with psycopg.connect(url) as conn:
        candle_store.copy_new_candles(conn, VENUE, symbol, timeframe, out, "import")
        conn.commit()


def sma_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "sma-test", "account": "acc-shadow",
        "universe": {"venue": VENUE, "symbols": [BTC, ETH], "timeframe": "1m"},
        "indicators": {"fast": {"type": "sma", "period": 10}, "slow": {"type": "sma", "period": 20}},
        "rules": {"long": {"entry": {"crosses_above": ["fast", "slow"]}, "exit": {"crosses_below": ["fast", "slow"]}},
                  "short": {"entry": {"crosses_below": ["fast", "slow"]}, "exit": {"crosses_above": ["fast", "slow"]}}},
        "sizing": {"type": "fixed_notional", "notional": "1000"},
    }  # fmt: skip
    doc.update(changes)
    return doc


def create_strategy(url: str, doc: dict[str, Any]) -> int:
    with psycopg.connect(url) as conn:
        version, _ = store.create(conn, parse(doc), "test")
        conn.commit()
    return version

"""Market data tests: a migrated database, a stepped simulator and the candle pipeline's two halves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from kairos.contracts.envelope import Envelope, new_event
from kairos.contracts.ops import PingTick
from kairos.marketdata import candles_job, ingest, store
from kairos.runtime.db import migrate
from kairos.venues.binance_usdm import VENUE
from kairos_testkit.venue_sim import START_MS, VenueSimHandle, running_venue_sim

CRON = "/kairos/candles-cron"
NORMALIZE = "/kairos/normalize-candles"


@pytest.fixture
def db(database_url: str) -> str:
    migrate(database_url)
    return database_url


@pytest.fixture
def sim() -> Iterator[VenueSimHandle]:
    with running_venue_sim(seed=11, warmup_ticks=0, start_ms=START_MS, tick_ms=1000) as handle:
        yield handle


def cron_env(sim: VenueSimHandle, **extra: str) -> dict[str, str]:
    return {"KAIROS_VENUE_BASE_URL": sim.base_url, "KAIROS_MARKET_VENUE_TIMEOUT_MS": "2000", **extra}


def ping() -> Envelope[PingTick]:
    return new_event(PingTick(job="candles"), source="/test/ping", partition_key="candles")


def subscribe(db: str, symbol: str, timeframe: str, since: datetime) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        store.subscribe(conn, VENUE, symbol, timeframe, since)


def cron_tick(db: str, sim: VenueSimHandle, **env: str) -> list[Envelope[Any]]:
    with psycopg.connect(db) as conn:
        out = candles_job.tick(conn, ping(), cron_env(sim, **env), CRON)
        conn.commit()
    return out


def normalize(db: str, events: list[Envelope[Any]]) -> list[Envelope[Any]]:
    """Store every raw kline of ``events`` (one transaction each, as the function does)."""
    emitted: list[Envelope[Any]] = []
    for e in events:
        if e.meta.type != "kairos.raw.binance_usdm.ohlcv":
            continue
        with psycopg.connect(db) as conn:
            emitted += ingest.store_kline(conn, e, NORMALIZE)
            conn.commit()
    return emitted


def alerts(events: list[Envelope[Any]]) -> list[Any]:
    return [e.data for e in events if e.meta.type == "kairos.ops.alert"]


def sim_closed(sim: VenueSimHandle, native: str, timeframe: str, start: int) -> list[tuple[Any, ...]]:
    """The simulator's closed candles from ``start``: (open ms, o, h, l, c, v)."""
    now = sim.venue.now_ms
    rows = sim.venue.klines(native, timeframe, start, None, 1500)
    return [(r[0], *r[2:]) for r in rows if r[1] < now]


def stored(db: str, symbol: str, timeframe: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT open_time, open, high, low, close, volume, revision FROM candles_latest"
            " WHERE symbol = %s AND timeframe = %s ORDER BY open_time",
            (symbol, timeframe),
        ).fetchall()
    return [(int(r[0].timestamp() * 1000), *r[1:]) for r in rows]


__all__ = ["START_MS"]

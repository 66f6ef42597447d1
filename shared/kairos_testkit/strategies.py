"""Strategy test helpers: the simulator's candles through the market data pipeline, accounts,
the example documents, and the engine fed as the function feeds it (tests and bench)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from kairos.contracts.envelope import Envelope, new_event
from kairos.contracts.ops import PingTick
from kairos.marketdata import candles_job, ingest
from kairos.marketdata import store as candle_store
from kairos.runtime.db import migrate
from kairos.strategies import engine, store
from kairos.strategies.language import StrategySpec, canonical, parse, parse_text
from kairos.venues.binance_usdm import VENUE

from kairos_testkit.paths import REPO
from kairos_testkit.venue_sim import START_MS, VenueSimHandle, running_venue_sim

EXAMPLES = REPO / "strategies"

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
MIN = 60_000
SHADOW, LIVE = "acc-shadow", "acc-live"


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@contextmanager
def history_sim() -> Iterator[VenueSimHandle]:
    """The simulator the strategy tests trade on: three archived hours before START_MS, then two
    live hours (stepped at once), so 300 closed 1 m candles per symbol; the clock then stands
    still unless a test steps it. Seeded: the same candles in every run."""
    with running_venue_sim(seed=11, warmup_ticks=0, start_ms=START_MS, tick_ms=1000) as handle:
        handle.control.step(ticks=7200)
        yield handle


def migrated(url: str) -> str:
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for account, mode in ((SHADOW, "shadow"), (LIVE, "live")):
            conn.execute("INSERT INTO exec_accounts (account, venue, mode) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                         (account, VENUE, mode))  # fmt: skip
    return url


def candle_events(db: str, sim: VenueSimHandle, symbols: tuple[str, ...] = (BTC,)) -> list[Envelope[Any]]:
    """The simulator's closed 1 m candles since three hours before START_MS, through the market
    data pipeline: stored in the candles table, as the norm.candle events normalize publishes."""
    with psycopg.connect(db, autocommit=True) as conn:
        for symbol in symbols:
            candle_store.subscribe(conn, VENUE, symbol, "1m", from_ms(START_MS - 180 * MIN))
    with psycopg.connect(db) as conn:
        raw = candles_job.tick(conn, new_event(PingTick(job="candles"), source="/test", partition_key="c"),
                               {"KAIROS_VENUE_BASE_URL": sim.base_url}, "/kairos/candles-cron")  # fmt: skip
        conn.commit()
    out: list[Envelope[Any]] = []
    for e in raw:
        if e.meta.type == "kairos.raw.binance_usdm.ohlcv":
            with psycopg.connect(db) as conn:
                out += ingest.store_kline(conn, e, "/kairos/normalize-candles")
                conn.commit()
    return out


def example(name: str, **changes: Any) -> StrategySpec:
    spec = parse_text((EXAMPLES / f"{name}.yaml").read_text())
    return spec.model_copy(update=changes) if changes else spec


def with_doc(spec: StrategySpec, **changes: Any) -> StrategySpec:
    """A changed document, validated again."""
    data = json.loads(json.dumps(canonical(spec)))
    data.update(changes)
    return parse(data)


def create_and_start(db: str, spec: StrategySpec) -> list[Envelope[Any]]:
    with psycopg.connect(db) as conn:
        version, _ = store.create(conn, spec, "test")
        started = store.start(conn, spec.name, version, "test")
        conn.commit()
    return [started]


def feed(db: str, events: list[Envelope[Any]]) -> list[Envelope[Any]]:
    """Each candle event through the engine in its own transaction, as the function does."""
    out: list[Envelope[Any]] = []
    for e in events:
        with psycopg.connect(db) as conn:
            out += engine.on_candle(conn, e.data, e)
            conn.commit()
    return out


def of_type(events: list[Envelope[Any]], kind: str) -> list[Any]:
    return [e.data for e in events if e.meta.type == f"kairos.{kind}"]

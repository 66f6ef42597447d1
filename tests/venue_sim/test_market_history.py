"""Market data as a default ccxt client sees it: load_markets, klines for every timeframe,
deterministic history before the first tick, corrections and holes, tickers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from kairos.marketdata.timeframes import TIMEFRAME_MS, bucket_open
from kairos.venues.binance_usdm.client import rebased_urls
from kairos_testkit.venue_sim import START_MS, VenueSimHandle, running_venue_sim

BTC = "BTC/USDT:USDT"
DAY = 86_400_000


def default_client(sim: VenueSimHandle) -> Any:
    """ccxt.binanceusdm with its defaults (fetchCurrencies, fetchMargins...): only the URLs moved."""
    probe = ccxt.binanceusdm()
    return ccxt.binanceusdm(
        {"urls": {"api": rebased_urls(sim.base_url, probe.urls["api"])}, "apiKey": sim.api_key, "secret": sim.secret}
    )


def raw_klines(ex: Any, interval: str, **params: Any) -> list[list[Any]]:
    return list(ex.fapiPublicGetKlines({"symbol": "BTCUSDT", "interval": interval, **params}))


def test_a_default_configured_client_loads_markets_and_every_request_is_answered(sim: VenueSimHandle) -> None:
    ex = default_client(sim)
    ex.load_markets()
    assert BTC in ex.markets
    audit = sim.control.audit()
    assert {r["path"] for r in audit} >= {"/sapi/v1/margin/allPairs", "/fapi/v1/exchangeInfo"}
    assert all(r["status"] == 200 for r in audit), audit


@pytest.mark.parametrize("timeframe", sorted(TIMEFRAME_MS))
def test_every_timeframe_ccxt_knows_is_served_aligned_and_consistent(sim: VenueSimHandle, timeframe: str) -> None:
    ex = default_client(sim)
    assert timeframe in ex.timeframes
    since = START_MS - (2 * DAY if TIMEFRAME_MS[timeframe] < DAY else 400 * DAY)
    rows = raw_klines(ex, timeframe, startTime=since, limit=50)
    assert rows, timeframe
    for r in rows:
        o, h, lo, c, v = (Decimal(x) for x in r[1:6])
        assert bucket_open(r[0], timeframe) == r[0]
        assert lo <= min(o, c) and h >= max(o, c) and v >= 0
        assert r[6] > r[0]
    opens = [r[0] for r in rows]
    assert opens == sorted(set(opens))
    if timeframe == "1w":
        assert all(datetime.fromtimestamp(t / 1000, UTC).weekday() == 0 for t in opens)
    if timeframe == "1M":
        assert all(datetime.fromtimestamp(t / 1000, UTC).day == 1 for t in opens)


def test_history_is_deterministic_and_joins_the_live_ticks_without_a_jump() -> None:
    def candles() -> list[list[Any]]:
        with running_venue_sim(seed=3, warmup_ticks=0, start_ms=START_MS) as sim:
            sim.control.step(ticks=180)
            return raw_klines(sim.ccxt(), "1m", startTime=START_MS - 30 * 60_000, limit=40)

    first, second = candles(), candles()
    assert first == second
    by_open = {r[0]: r for r in first}
    # archive minutes chain close -> open, and the last archive close is the first live open
    for t in range(START_MS - 30 * 60_000, START_MS, 60_000):
        assert by_open[t][4] == by_open[t + 60_000][1]


def test_an_hour_candle_aggregates_its_sixty_minutes(sim: VenueSimHandle) -> None:
    ex = sim.ccxt()
    t = START_MS - 5 * 3_600_000
    hour = raw_klines(ex, "1h", startTime=t, limit=1)[0]
    minutes = raw_klines(ex, "1m", startTime=t, limit=60)
    assert hour[0] == t and len(minutes) == 60
    assert hour[1] == minutes[0][1] and hour[4] == minutes[-1][4]
    assert Decimal(hour[2]) == max(Decimal(m[2]) for m in minutes)
    assert Decimal(hour[3]) == min(Decimal(m[3]) for m in minutes)
    assert Decimal(hour[5]) == sum(Decimal(m[5]) for m in minutes)


def test_start_end_and_limit_select_like_binance(sim: VenueSimHandle) -> None:
    ex = sim.ccxt()
    t = START_MS - DAY
    rows = raw_klines(ex, "1m", startTime=t + 1, endTime=t + 10 * 60_000, limit=1500)
    assert [r[0] for r in rows] == [t + i * 60_000 for i in range(1, 11)]
    assert len(raw_klines(ex, "1m", startTime=t - DAY, limit=1500)) == 1500
    latest = raw_klines(ex, "1m", limit=3)
    assert latest[-1][0] == bucket_open(sim.control.health()["now"], "1m")
    ancient = raw_klines(ex, "1d", startTime=0, limit=2)
    assert ancient[0][0] == bucket_open(1_567_900_800_000, "1d")  # nothing before the listing


def test_ccxt_fetch_ohlcv_pages_history_with_since(sim: VenueSimHandle) -> None:
    ex = sim.ccxt()
    since = START_MS - 5 * DAY
    got = ex.fetch_ohlcv(BTC, "5m", since=since, limit=1000)
    assert len(got) == 1000 and got[0][0] == since and got[-1][0] == since + 999 * 300_000


def test_a_corrected_candle_and_a_hole_are_served_as_set(sim: VenueSimHandle) -> None:
    ex = sim.ccxt()
    t = START_MS - 60 * 60_000
    fix = {"open": "1", "high": "3", "low": "1", "close": "2", "volume": "9"}
    sim.control.fix_kline("BTCUSDT", t, fix)
    sim.control.kline_hole("BTCUSDT", t + 60_000, t + 180_000)
    rows = raw_klines(ex, "1m", startTime=t, limit=4)
    assert [r[0] for r in rows] == [t, t + 180_000, t + 240_000, t + 300_000]
    assert [Decimal(x) for x in rows[0][1:6]] == [1, 3, 1, 2, 9]


def test_tickers_book_tickers_and_marks_for_every_symbol(sim: VenueSimHandle) -> None:
    ex = sim.ccxt()
    ex.load_markets()
    sim.control.set_price("BTCUSDT", "61000", mark="61010")
    tickers = ex.fetch_tickers()
    assert tickers[BTC]["last"] == 61000
    books = ex.fetch_bids_asks()
    assert books[BTC]["bid"] == 61000 and books[BTC]["ask"] == 61000.1
    marks = ex.fetch_mark_prices()
    assert marks[BTC]["markPrice"] == 61010
    assert {BTC, "ETH/USDT:USDT", "SOL/USDT:USDT"} <= set(tickers) & set(books) & set(marks)

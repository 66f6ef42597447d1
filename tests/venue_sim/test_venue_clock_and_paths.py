"""Price paths are deterministic; candles, tickers and trades come from the same ticks."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from kairos.venue_sim.pricepath import BUNDLED_CANDLES, ReplayPath, SeededPath, load_candles
from kairos.venue_sim.venue import Venue, VenueConfig
from kairos.venues.binance_usdm.markets import MARKETS
from kairos_testkit.venue_sim import BTC, START_MS, running_venue_sim

BTC_SPEC = MARKETS[0]


def test_seeded_path_is_identical_for_the_same_seed_and_differs_across_seeds() -> None:
    a, b, c = SeededPath(BTC_SPEC, 5), SeededPath(BTC_SPEC, 5), SeededPath(BTC_SPEC, 6)
    assert [a.price(k) for k in range(2000)] == [b.price(k) for k in range(2000)]
    assert [a.price(k) for k in range(50)] != [c.price(k) for k in range(50)]


def test_seeded_path_prices_are_on_the_tick_and_positive() -> None:
    path = SeededPath(BTC_SPEC, 9)
    for k in range(5000):
        p = path.price(k)
        assert p > 0 and BTC_SPEC.on_tick(p)


def test_replay_expands_each_candle_into_open_extremes_close() -> None:
    candles = load_candles(BUNDLED_CANDLES)["BTCUSDT"]
    path = ReplayPath(BTC_SPEC, candles)
    c = candles[1]
    ticks = [path.price(4 + i) for i in range(4)]
    assert ticks[0] == c.open and ticks[3] == c.close
    assert {ticks[1], ticks[2]} == {c.high, c.low}


def test_replay_loops_without_jumping_back_in_level() -> None:
    candles = load_candles(BUNDLED_CANDLES)["ETHUSDT"]
    path = ReplayPath(MARKETS[1], candles)
    n = len(candles) * 4
    assert abs(path.price(n) - path.price(n - 1)) <= path.price(n - 1) * Decimal("0.01")


def test_venue_replaying_bundled_data_serves_those_candles_through_ccxt() -> None:
    with running_venue_sim(seed=1, data=BUNDLED_CANDLES, warmup_ticks=0, start_ms=START_MS, tick_ms=15_000) as sim:
        sim.control.step(ticks=8)  # two candles of four ticks each
        ex = sim.ccxt()
        candles = ex.fetch_ohlcv(BTC, "1m", since=START_MS, limit=2)
        source = load_candles(BUNDLED_CANDLES)["BTCUSDT"][:2]
        assert [c[1:5] for c in candles] == [[float(s.open), float(s.high), float(s.low), float(s.close)]
                                             for s in source]  # fmt: skip


def test_stepping_moves_the_market_clock_only_by_whole_ticks() -> None:
    venue = Venue(VenueConfig(seed=1, warmup_ticks=0, start_ms=START_MS))
    assert venue.now_ms == START_MS
    assert venue.step_ms(2500) == 2 and venue.now_ms == START_MS + 2000


def test_realtime_clock_advances_market_with_wall_time(sim: Any) -> None:
    before = sim.control.health()["tick"]
    sim.control.set_clock("realtime", speed=50)
    time.sleep(0.3)  # >= 0.3 s of wall time at 50 ticks/s is at least 15 ticks
    assert sim.control.health()["tick"] >= before + 15
    sim.control.set_clock("stepped")


def test_ticker_high_low_cover_every_tick_of_the_day(sim: Any) -> None:
    ex = sim.ccxt()
    sim.control.script("BTCUSDT", ["70000", "50000", "60000"])
    sim.control.step(ticks=3)
    ticker = ex.fetch_ticker(BTC)
    assert ticker["high"] == 70000 and ticker["low"] == 50000 and ticker["last"] == 60000

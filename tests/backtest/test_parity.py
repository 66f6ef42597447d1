"""Parity: the strategy engine (the SHADOW live path, fed the simulator's candles through the
market data pipeline) and a backtest over the same stored candles decide the same things."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from kairos.backtest import runner
from kairos.backtest.config import BacktestRequest
from kairos_testkit.strategies import (
    BTC,
    SHADOW,
    candle_events,
    create_and_start,
    example,
    feed,
    migrated,
    of_type,
    with_doc,
)
from kairos_testkit.venue_sim import VenueSimHandle

from tests.strategies.conftest import sim  # noqa: F401 - the simulator fixture


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sma-crossover", "rsi-mean-reversion"])
def test_shadow_engine_and_backtest_give_the_same_signals_and_sizes(
    database_url: str, sim: VenueSimHandle, name: str  # noqa: F811
) -> None:
    db = migrated(database_url)
    spec = with_doc(example(name), account=SHADOW, universe={"venue": "binanceusdm", "symbols": [BTC],
                                                             "timeframe": "1m"})  # fmt: skip
    create_and_start(db, spec)
    candles = candle_events(db, sim)
    live = feed(db, candles)
    signals = of_type(live, "signal.generated")
    intents = {i.signal_id: i for i in of_type(live, "cmd.order_intent")}
    assert len(signals) >= 2
    start = candles[0].data.open_time
    end = candles[-1].data.open_time + timedelta(minutes=1)
    with psycopg.connect(db) as conn:
        out = runner.run(conn, BacktestRequest(strategy_id=spec.name, start=start, end=end, balance=Decimal(10000)))
    # A protective exit (rsi-mean-reversion's 2 % stop) flattens the backtest's position; the engine's
    # position follows its own intents only, so the two agree up to the first protective exit
    # (docs/BACKTEST.md, "Parity with live").
    protective = [t["exit_time"] for t in out.trades if t["reason"] in ("stop_loss", "take_profit", "trailing_stop")]
    cut = min(protective, default="9999")
    want = [(s.candle_open_time.strftime("%Y-%m-%dT%H:%M:%SZ"), s.action) for s in signals]
    want = [w for w in want if w[0] < cut]
    got = [(s["candle_open_time"], s["action"]) for s in out.signals if s["candle_open_time"] < cut]
    assert got == want and len(got) >= 2
    # the engine sizes an entry at the candle's close; the backtest the same way (exits close all)
    for s, b in zip(signals[: len(got)], out.signals[: len(got)], strict=True):
        intent = intents[s.signal_id]
        if intent.kind == "entry":
            assert Decimal(b["quantity"]) == intent.quantity
    # fills: each decision fills at the next candle's open (the documented rule; live fills when the
    # executor sends the intent's order)
    opens = {c.data.open_time.strftime("%Y-%m-%dT%H:%M:%SZ"): c.data.open for c in candles}
    for t in out.trades:
        if t["reason"] in ("signal", "reverse"):
            assert Decimal(t["exit_price"]) == opens[t["exit_time"]]

"""Strategy evaluation at one candle close: 100 strategies over 50 symbols in one process.

Two parts:

- ``pure``: every strategy evaluated on every symbol's candle window, in memory (indicators
  + rules + decision): the cost of one strategy evaluation, without I/O.
- ``engine``: the strategy engine as the function runs it, against a fresh embedded Postgres
  holding the windows: one ``norm.candle`` per symbol (the close of one minute), each handled
  in its own transaction (window read once per candle, state rows, decisions, events).
  The target: all 50 candles, i.e. 5,000 strategy evaluations, in under 1 s.

The 100 strategies are the three examples' shapes with varied periods (SMA crossover,
RSI mean reversion, Bollinger + MACD breakout), each over all 50 symbols, 1 m.

    python -m bench strategies [--strategies 100] [--symbols 50] [--part pure|engine|both]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg
from kairos.contracts.envelope import new_event
from kairos.contracts.market_data import Candle
from kairos.marketdata import store as candle_store
from kairos.runtime.db import migrate
from kairos.strategies import engine, indicators, store
from kairos.strategies.evaluate import evaluate, plan
from kairos.strategies.indicators import Candles
from kairos.strategies.language import StrategySpec, parse
from kairos_testkit.servers import embedded_servers

START = datetime(2026, 1, 1, tzinfo=UTC)
VENUE = "binanceusdm"


def symbols(n: int) -> list[str]:
    return [f"S{i:03d}/USDT:USDT" for i in range(n)]


def specs(n: int, syms: list[str]) -> list[StrategySpec]:
    out = []
    universe = {"venue": VENUE, "symbols": syms, "timeframe": "1m"}
    for i in range(n):
        shape = i % 3
        base: dict[str, Any] = {"name": f"bench-{i:03d}", "account": "bench", "universe": universe}
        if shape == 0:
            fast, slow = 3 + i % 7, 15 + i % 20
            base |= {"indicators": {"fast": {"type": "sma", "period": fast}, "slow": {"type": "ema", "period": slow}},
                     "rules": {"long": {"entry": {"crosses_above": ["fast", "slow"]},
                                        "exit": {"crosses_below": ["fast", "slow"]}},
                               "short": {"entry": {"crosses_below": ["fast", "slow"]},
                                         "exit": {"crosses_above": ["fast", "slow"]}}},
                     "sizing": {"type": "fixed_notional", "notional": "100"}}  # fmt: skip
        elif shape == 1:
            base |= {"equity": "10000", "indicators": {"rsi": {"type": "rsi", "period": 7 + i % 14}},
                     "rules": {"long": {"entry": {"crosses_below": ["rsi", 30]}, "exit": {"gte": ["rsi", 50]}},
                               "short": {"entry": {"crosses_above": ["rsi", 70]}, "exit": {"lte": ["rsi", 50]}}},
                     "sizing": {"type": "percent_of_equity", "percent": "2"}}  # fmt: skip
        else:
            base |= {"equity": "10000", "indicators": {
                        "bb": {"type": "bollinger", "period": 10 + i % 20, "stddev": 2},
                        "macd": {"type": "macd", "fast": 12, "slow": 26, "signal": 9},
                        "atr": {"type": "atr", "period": 14}, "hi": {"type": "highest", "period": 20},
                        "roc": {"type": "roc", "period": 5}},
                     "rules": {"long": {"entry": {"all": [{"crosses_above": ["close", "bb.upper"]},
                                                          {"gt": ["macd.hist", 0]}, {"not": {"lt": ["roc", 0]}}]},
                                        "exit": {"crosses_below": ["close", "bb.middle"]}},
                               "short": {"entry": {"any": [{"crosses_below": ["close", "bb.lower"]},
                                                           {"gt": ["close", "hi"]}]},
                                         "exit": {"crosses_above": ["close", "bb.middle"]}}},
                     "sizing": {"type": "risk_per_trade", "risk_percent": "0.5", "atr": "atr",
                                "atr_multiple": "2"}}  # fmt: skip
        out.append(parse(base))
    return out


def walk(n: int, seed: int) -> Candles:
    rnd = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rnd.normal(0, 0.002, n)))
    opens = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(opens, close) * (1 + np.abs(rnd.normal(0, 0.001, n)))
    low = np.minimum(opens, close) * (1 - np.abs(rnd.normal(0, 0.001, n)))
    t = (np.arange(n, dtype=np.int64) * 60_000) + int(START.timestamp() * 1000)
    return Candles(t, np.round(opens, 4), np.round(high, 4), np.round(low, 4), np.round(close, 4), np.ones(n))


def bench_pure(strats: list[StrategySpec], syms: list[str], bars: int) -> None:
    windows = [walk(bars, i) for i in range(len(syms))]
    for _ in range(2):  # warm
        evaluate(strats[0], windows[0], None)
    t0, c0 = time.perf_counter(), time.process_time()
    for w in windows:
        for s in strats:
            evaluate(s, w.tail(plan(s).window), None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(windows) * len(strats)
    print(f"pure: {n} evaluations ({len(strats)} strategies x {len(syms)} symbols, windows up to"
          f" {max(indicators.window_bars(s) for s in strats)} bars) in {wall * 1000:.0f} ms wall,"
          f" {cpu * 1000:.0f} ms CPU: {wall / n * 1e6:.0f} us per strategy evaluation")


def bench_engine(strats: list[StrategySpec], syms: list[str], bars: int) -> None:
    with embedded_servers("kairos-bench-strat-", broker=False) as servers:
        url = servers.url
        migrate(url)
        last = START + timedelta(minutes=bars - 1)
        with psycopg.connect(url) as conn:
            conn.execute("INSERT INTO exec_accounts (account, venue, mode) VALUES ('bench', %s, 'shadow')", (VENUE,))
            candle_store.ensure_partitions(conn, START, last)
            for i, sym in enumerate(syms):
                c = walk(bars, i)
                rows = [(datetime.fromtimestamp(int(c.open_time[j]) / 1000, UTC),
                         datetime.fromtimestamp(int(c.open_time[j]) / 1000, UTC) + timedelta(seconds=59.999),
                         Decimal(repr(float(c.open[j]))), Decimal(repr(float(c.high[j]))),
                         Decimal(repr(float(c.low[j]))), Decimal(repr(float(c.close[j]))), Decimal(1), None, None)
                        for j in range(bars - 1)]  # fmt: skip
                candle_store.copy_new_candles(conn, VENUE, sym, "1m", rows, "import")
            for s in strats:
                store.create(conn, s, "bench")
            conn.commit()
            for s in strats:
                store.start(conn, s.name, 1, "bench")
            conn.commit()
            # the closing candle of the minute, one per symbol, stored as normalize stores it
            events = []
            for i, sym in enumerate(syms):
                c = walk(bars, i)
                candle = Candle(venue=VENUE, symbol=sym, timeframe="1m", open_time=last,
                                close_time=last + timedelta(seconds=59.999), open=Decimal(repr(float(c.open[-1]))),
                                high=Decimal(repr(float(c.high[-1]))), low=Decimal(repr(float(c.low[-1]))),
                                close=Decimal(repr(float(c.close[-1]))), volume=Decimal(1), revision=1)  # fmt: skip
                candle_store.store_candle(conn, candle, origin="venue")
                events.append(new_event(candle, source="/bench", partition_key=f"{VENUE}|{sym}|1m"))
            conn.commit()
        emitted = 0
        per_candle = []
        with psycopg.connect(url) as conn:
            t0, c0 = time.perf_counter(), time.process_time()
            for e in events:
                t = time.perf_counter()
                with conn.transaction():
                    emitted += len(engine.on_candle(conn, e.data, e))
                per_candle.append(time.perf_counter() - t)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n = len(strats) * len(syms)
        per_candle.sort()
        print(f"engine: {len(events)} candles x {len(strats)} strategies = {n} evaluations with Postgres in"
              f" {wall * 1000:.0f} ms wall ({cpu * 1000:.0f} ms CPU in this process), {wall / n * 1e6:.0f} us per"
              f" evaluation; per candle p50 {per_candle[len(per_candle) // 2] * 1000:.1f} ms, max"
              f" {per_candle[-1] * 1000:.1f} ms; {emitted} events emitted; target < 1000 ms:"
              f" {'met' if wall < 1 else 'NOT met'}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench strategies")
    parser.add_argument("--strategies", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--bars", type=int, default=800, help="stored history per symbol (>= the longest window)")
    parser.add_argument("--part", choices=("pure", "engine", "both"), default="both")
    args = parser.parse_args(argv)
    random.seed(1)
    syms = symbols(args.symbols)
    strats = specs(args.strategies, syms)
    print(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
                      "load": os.getloadavg()}))  # fmt: skip
    if args.part in ("pure", "both"):
        bench_pure(strats, syms, args.bars)
    if args.part in ("engine", "both"):
        bench_engine(strats, syms, args.bars)
    return 0

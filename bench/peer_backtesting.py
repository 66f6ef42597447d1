"""The peer: backtesting.py (``backtesting`` on PyPI) against Kairos's simulation, same candles,
same SMA(10/20) crossover, same fill conventions, timed alternately in one process, and their
trades compared.

backtesting.py is not a dependency of Kairos, not even an optional one: it pulls in pandas, and
TA-Lib wraps every one of its functions for pandas input as soon as pandas can be imported,
which would slow down and enlarge every Kairos process that computes an indicator. So the first
run installs it with pip into ``.state/bench-peer`` (git ignores ``.state``), and only this
benchmark puts that directory on its path, at the end and after TA-Lib has been imported.

The conventions, matched on both sides:

- signal at a candle's close, market fill at the next candle's open (Kairos ``fill=next_open``;
  backtesting.py's default ``trade_on_close=False``);
- commission as a fraction of traded value on every fill (``fee_rate`` / ``commission``);
- all available equity at each entry (``sizing=all_equity``; backtesting.py's ``buy()`` and
  ``sell()`` without a size). backtesting.py trades whole units, so it gets the balance times
  ``UNIT`` as cash: one of its units is then a millionth of a coin at a millionth of the money,
  the resolution of Kairos's sizing rule (0.000001; the guardian's lot rule then rounds Kairos's
  entries down to BTC's step, 0.001), and its sizes and PnL are divided by
  ``UNIT`` to compare. Scaling the cash instead of the prices (what its ``FractionalBacktest``
  does) keeps the price bits, so both sides compare the same floats;
- the strategy as backtesting.py's documentation writes it: two ``self.I(SMA, …)`` and
  ``crossover``, ``position.close()`` then ``buy()`` / ``sell()`` (long and short, reversing);
- an open position is closed at the end (``finalize_trades=True``; Kairos always does).
"""

from __future__ import annotations

import gc
import importlib.metadata
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import talib
from kairos.backtest.config import BacktestRequest, FillModel
from kairos.backtest.runner import compute
from kairos.strategies.indicators import Candles

PEER = "backtesting==0.6.6"
TARGET = Path(__file__).resolve().parents[1] / ".state" / "bench-peer"
#: small enough that a random walk's 55,000 trades leave money to size with (at 1 bp per fill the
#: 1,000,000-candle run ends with 0.002 % of its balance and the quantity step rules the sizes)
FEE = Decimal("0.00001")
BALANCE = 1_000_000
UNIT = 1_000_000


def load_peer() -> Any:
    """backtesting.py from ``.state/bench-peer``, installed there by pip on first use."""
    name, version = PEER.split("==")
    if not (TARGET / f"{name}-{version}.dist-info").is_dir():
        print(f"installing {PEER} into {TARGET} (once; not into the venv)", flush=True)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--target", str(TARGET), PEER], capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            sys.exit(f"pip could not install {PEER} into {TARGET} (PyPI reachable?):\n{done.stdout}{done.stderr}")
    if str(TARGET) not in sys.path:
        sys.path.append(str(TARGET))
    import backtesting

    return backtesting


@dataclass
class Fills:
    """One side's trades in comparable form: bar indices, prices, signed quantities in coins."""

    entry_bar: npt.NDArray[np.int64]
    exit_bar: npt.NDArray[np.int64]
    entry_price: npt.NDArray[np.float64]
    exit_price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    final_equity: float

    @property
    def decisions(self) -> set[int]:
        """The candles whose close decided an entry (every entry fills at the next open)."""
        return set((self.entry_bar - 1).tolist())


def peer_strategy(bt: Any, indicator: Any) -> type:
    """SmaCross as backtesting.py's documentation writes it, over ``indicator`` (values, period)."""
    from backtesting.lib import crossover

    class SmaCross(bt.Strategy):  # type: ignore[misc,name-defined]
        def init(self) -> None:
            self.fast = self.I(indicator, self.data.Close, 10)
            self.slow = self.I(indicator, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell()

    return SmaCross


def frame(candles: Candles) -> Any:
    import pandas as pd

    index = pd.to_datetime(candles.open_time, unit="ms", utc=True)
    return pd.DataFrame({"Open": candles.open, "High": candles.high, "Low": candles.low, "Close": candles.close,
                         "Volume": candles.volume}, index=index)  # fmt: skip


def run_peer(bt: Any, data: Any, strategy: type) -> Any:
    """Everything backtesting.py does for one backtest: set-up, indicators, the bar loop, statistics."""
    backtest = bt.Backtest(data, strategy, cash=BALANCE * UNIT, commission=float(FEE), finalize_trades=True)
    return backtest.run()


def run_kairos(spec: Any, symbol: str, candles: Candles, req: BacktestRequest) -> dict[str, Any]:
    """Everything Kairos does for one backtest in memory: indicators, rules, loop, fills, equity, metrics, hash."""
    _digest, result = compute(spec, {symbol: candles}, req, "1m", lambda *_: None)
    return result


def kairos_fills(result: dict[str, Any], t0: int) -> Fills:
    trades = result["trades"]

    def bars(key: str) -> npt.NDArray[np.int64]:
        ms = np.array([t[key].rstrip("Z") for t in trades], dtype="datetime64[ms]").astype(np.int64)
        return (ms - t0) // 60_000

    sign = np.array([1.0 if t["side"] == "long" else -1.0 for t in trades])
    return Fills(bars("entry_time"), bars("exit_time"), np.array([float(t["entry_price"]) for t in trades]),
                 np.array([float(t["exit_price"]) for t in trades]),
                 sign * np.array([float(t["quantity"]) for t in trades]),
                 BALANCE * (1.0 + float(result["metrics"]["total_return"])))  # fmt: skip


def peer_fills(stats: Any) -> Fills:
    t = stats["_trades"]
    return Fills(t["EntryBar"].to_numpy(np.int64), t["ExitBar"].to_numpy(np.int64), t["EntryPrice"].to_numpy(float),
                 t["ExitPrice"].to_numpy(float), t["Size"].to_numpy(float) / UNIT,
                 float(stats["Equity Final [$]"]) / UNIT)  # fmt: skip


def ties(candles: Candles) -> tuple[set[int], set[int]]:
    """Candles where SMA(10) equals SMA(20): exactly in TA-Lib's arithmetic (what Kairos computes),
    and up to float rounding in either TA-Lib's running sum or pandas' rolling mean (which round
    differently, so one can see a tie where the other sees a difference in the last bits)."""
    import pandas as pd

    close = pd.Series(candles.close)
    fast, slow = talib.SMA(candles.close, 10), talib.SMA(candles.close, 20)
    pfast, pslow = close.rolling(10).mean().to_numpy(), close.rolling(20).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        # 1e-14: a few units in the last place of a float64 (the differences seen are within one)
        near = (np.abs(fast - slow) <= 1e-14 * slow) | (np.abs(pfast - pslow) <= 1e-14 * pslow)
    return set(np.flatnonzero(fast == slow).tolist()), set(np.flatnonzero(near).tolist())


def compare(label: str, k: Fills, p: Fills, candles: Candles) -> None:
    """Same trades? Print what matches and explain each difference."""
    n = len(candles)
    print(f"check {n:,} candles, peer with {label}: Kairos {len(k.qty):,} trades, backtesting.py {len(p.qty):,}")
    only_k, only_p = sorted(k.decisions - p.decisions), sorted(p.decisions - k.decisions)
    if only_k or only_p:
        exact, near = ties(candles)
        # Kairos's crosses_above fires when the fast SMA was <= the slow one on the candle before,
        # backtesting.py's crossover only when it was strictly below
        equal = [d for d in only_k if d - 1 in exact]
        rounding = [d for d in only_k + only_p if d not in equal and (d in near or d - 1 in near)]
        other = len(only_k) + len(only_p) - len(equal) - len(rounding)
        print(f"  entries decided on different candles: {len(only_k)} only in Kairos, {len(only_p)} only in"
              f" backtesting.py: {len(equal)} after a candle where the SMAs are exactly equal (a cross from"
              f" equality counts for Kairos, not for backtesting.py's strict crossover), {len(rounding)} on or"
              f" after a candle where they are equal up to float rounding, {other} otherwise")  # fmt: skip
    # trades entered on the same candle by both (all of them when no decision differs)
    common, ki, pi = np.intersect1d(k.entry_bar, p.entry_bar, assume_unique=True, return_indices=True)
    same = (k.exit_bar[ki] == p.exit_bar[pi]) & (np.sign(k.qty[ki]) == np.sign(p.qty[pi]))
    entry_eq = k.entry_price[ki] == p.entry_price[pi]
    exit_eq = k.exit_price[ki] == p.exit_price[pi]
    print(f"  {len(common):,} trades entered on the same candle by both: {int(same.sum()):,} with the same side and"
          f" exit candle, {int(entry_eq.sum()):,} at the same entry price, {int((exit_eq & same).sum()):,} at the"
          f" same exit price")  # fmt: skip
    last = n - 1
    if k.exit_bar[-1] == p.exit_bar[-1] == last and k.exit_price[-1] != p.exit_price[-1]:
        print(f"  the last trade, open at the end: Kairos closes it at the last candle's close"
              f" ({float(candles.close[last])}), backtesting.py at its open ({p.exit_price[-1]})")  # fmt: skip
    rel = np.abs(k.qty[ki] - p.qty[pi]) / np.abs(p.qty[pi])
    print(f"  quantities: median relative difference {np.median(rel):.1e}, max {rel.max():.1e} (Kairos sizes at the"
          f" deciding close, open PnL included; backtesting.py at the fill open, after the exit and its fee);"
          f" final equity Kairos {k.final_equity:,.2f}, backtesting.py {p.final_equity:,.2f}")  # fmt: skip


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_peer(sizes: list[int], repeat: int, walk: Any, spec: Any, symbol: str, start: Any, t0: int) -> None:
    bt = load_peer()
    import pandas as pd
    from backtesting.test import SMA

    print(f"peer: backtesting {importlib.metadata.version('backtesting')} (pandas {pd.__version__}) against"
          f" kairos.backtest.runner.compute; fill next open, commission {FEE} per fill, all equity, balance"
          f" {BALANCE:,}; CPU time of this process, rounds alternate which side runs first")  # fmt: skip
    idiomatic = peer_strategy(bt, SMA)
    for n in sizes:
        candles = walk(n)
        data = frame(candles)
        req = BacktestRequest(strategy_id=spec.name, start=start, end=start + timedelta(minutes=n),
                              balance=Decimal(BALANCE), fills=FillModel(fill="next_open", fee_rate=FEE,
                                                                         sizing="all_equity"))  # fmt: skip
        cpu: dict[str, list[float]] = {"kairos": [], "peer": []}
        wall: dict[str, list[float]] = {"kairos": [], "peer": []}
        out: dict[str, Any] = {}
        for k in range(repeat):
            order = ["kairos", "peer"] if k % 2 == 0 else ["peer", "kairos"]
            for side in order:
                gc.collect()
                w, c = time.perf_counter(), time.process_time()
                if side == "kairos":
                    out[side] = run_kairos(spec, symbol, candles, req)
                else:
                    out[side] = run_peer(bt, data, idiomatic)
                cpu[side].append(time.process_time() - c)
                wall[side].append(time.perf_counter() - w)
            kc, pc = cpu["kairos"][-1], cpu["peer"][-1]
            print(f"round {k + 1} at {n:,}: Kairos CPU {kc:.2f} s ({n / kc:,.0f} candles/s), backtesting.py CPU"
                  f" {pc:.2f} s ({n / pc:,.0f} candles/s), ratio {pc / kc:.2f}; wall {wall['kairos'][-1]:.2f} s /"
                  f" {wall['peer'][-1]:.2f} s")  # fmt: skip
        ratios = [p / k for k, p in zip(cpu["kairos"], cpu["peer"], strict=True)]
        kmed, pmed = statistics.median(cpu["kairos"]), statistics.median(cpu["peer"])
        print(f"peer summary at {n:,} candles: Kairos {n / kmed:,.0f} candles/s, backtesting.py {n / pmed:,.0f}"
              f" candles/s (median CPU); ratio {pmed / kmed:.2f} (per round {min(ratios):.2f}-{max(ratios):.2f});"
              f" wall ratio {statistics.median(wall['peer']) / statistics.median(wall['kairos']):.2f};"
              f" peak RSS of this process so far {peak_mb():.0f} MB")  # fmt: skip
        kf = kairos_fills(out["kairos"], t0)
        compare("its documented pandas SMA (as timed)", kf, peer_fills(out["peer"]), candles)
        # the same arithmetic as Kairos's indicator: any difference left is a convention
        compare("TA-Lib's SMA (Kairos's arithmetic)", kf, peer_fills(run_peer(bt, data, peer_strategy(bt, talib.SMA))),
                candles)  # fmt: skip
        del out, data

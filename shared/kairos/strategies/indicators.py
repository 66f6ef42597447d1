"""Indicator series over a candle window, computed by TA-Lib (vectorised C, one call each).

One implementation serves live evaluation and backtests: both hand ``compute`` a window of
candles as float arrays and get every named series back, NaN while it warms up.

Recursive indicators (EMA, RSI, ATR, MACD) depend on where their series starts, so live
evaluation reads a fixed window (``window_bars``) long enough that the start's weight has
decayed to nothing measurable (exp(-40) of its weight): a backtest over the whole history and
the engine over its window reach the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import talib

from kairos.strategies.language import (
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    Bollinger,
    Highest,
    Indicator,
    Lowest,
    RateOfChange,
    StrategySpec,
)

Series = npt.NDArray[np.float64]

#: Periods a recursive indicator's window spans: the start's weight decays as exp(-2n/period)
#: for an EMA and exp(-n/period) for Wilder's smoothing (RSI, ATR): exp(-40) either way.
_EMA_SPAN = 20
_WILDER_SPAN = 40


@dataclass(frozen=True)
class Candles:
    """A window of closed candles, oldest first, as float arrays of equal length."""

    open_time: npt.NDArray[np.int64]  # ms since the epoch
    open: Series
    high: Series
    low: Series
    close: Series
    volume: Series

    def __len__(self) -> int:
        return int(self.close.shape[0])

    def field(self, name: str) -> Series:
        return getattr(self, name)  # type: ignore[no-any-return]

    def tail(self, n: int) -> Candles:
        return Candles(
            self.open_time[-n:], self.open[-n:], self.high[-n:], self.low[-n:], self.close[-n:], self.volume[-n:]
        )


def lookback(ind: Indicator) -> int:
    """Bars before the indicator's first value (TA-Lib's own lookback)."""
    match ind:
        case SMA() | Bollinger() | Highest() | Lowest():
            return ind.period - 1
        case EMA():
            return ind.period - 1
        case RSI() | ATR() | RateOfChange():
            return ind.period
        case MACD():
            return ind.slow - 1 + ind.signal - 1
    raise AssertionError(ind)


def warmup_bars(spec: StrategySpec) -> int:
    """Bars needed before the strategy can decide: every indicator's lookback, plus one bar
    for the previous value a cross compares with, plus the bar itself."""
    return max((lookback(i) for i in spec.indicators.values()), default=0) + 2


def window_bars(spec: StrategySpec) -> int:
    """Bars the engine reads per evaluation (see the module docstring)."""
    span = warmup_bars(spec)
    for ind in spec.indicators.values():
        match ind:
            case EMA():
                span = max(span, ind.period * _EMA_SPAN + 2)
            case RSI() | ATR():
                span = max(span, ind.period * _WILDER_SPAN + 2)
            case MACD():
                span = max(span, (ind.slow + ind.signal) * _EMA_SPAN + 2)
    return span


def compute(spec: StrategySpec, candles: Candles) -> dict[str, Series]:
    """Every operand series of the strategy: candle fields and indicator outputs by name."""
    out: dict[str, Series] = {f: candles.field(f) for f in ("open", "high", "low", "close", "volume")}
    for name, ind in spec.indicators.items():
        for suffix, series in _one(ind, candles).items():
            out[f"{name}.{suffix}" if suffix else name] = series
    return out


def _one(ind: Indicator, c: Candles) -> dict[str, Series]:
    match ind:
        case SMA():
            return {"": talib.SMA(c.field(ind.source), timeperiod=ind.period)}
        case EMA():
            return {"": talib.EMA(c.field(ind.source), timeperiod=ind.period)}
        case RSI():
            return {"": talib.RSI(c.field(ind.source), timeperiod=ind.period)}
        case ATR():
            return {"": talib.ATR(c.high, c.low, c.close, timeperiod=ind.period)}
        case Bollinger():
            upper, middle, lower = talib.BBANDS(
                c.field(ind.source), timeperiod=ind.period, nbdevup=ind.stddev, nbdevdn=ind.stddev,
                matype=talib.MA_Type.SMA,
            )
            return {"upper": upper, "middle": middle, "lower": lower}
        case MACD():
            macd, signal, hist = talib.MACD(
                c.field(ind.source), fastperiod=ind.fast, slowperiod=ind.slow, signalperiod=ind.signal
            )
            return {"macd": macd, "signal": signal, "hist": hist}
        case Highest():
            return {"": talib.MAX(c.field(ind.source), timeperiod=ind.period)}
        case Lowest():
            return {"": talib.MIN(c.field(ind.source), timeperiod=ind.period)}
        case RateOfChange():
            return {"": talib.ROC(c.field(ind.source), timeperiod=ind.period)}
    raise AssertionError(ind)

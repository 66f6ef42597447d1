"""Performance metrics of a backtest from its equity curve and trades (pure, float64, fixed order).

Conventions (docs/BACKTEST.md): returns are per bar, close to close, of the whole account's
equity; Sharpe and Sortino use a zero risk-free rate and annualise by the number of bars in a
365.25-day year; Sortino's downside deviation is the root mean square of the negative returns
over all bars; CAGR spans the first candle's open to the last candle's close; the drawdown
duration is the longest time from a peak until equity is back at that peak (or the end).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from kairos.backtest.simulate import Trade

YEAR_MS = 365.25 * 86_400_000


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def drawdown(equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per bar: equity relative to its running peak, minus one (0 at a peak, negative below)."""
    peak = np.maximum.accumulate(equity)
    return equity / peak - 1.0


def max_drawdown_duration(
    equity: npt.NDArray[np.float64], times: npt.NDArray[np.int64], bar_ms: int, end_ms: int
) -> int:
    """Longest ms from a peak's close until the close at which equity is back at that peak (an
    unrecovered drawdown: until ``end_ms``). Two peaks on consecutive bars are no drawdown."""
    if len(equity) == 0:
        return 0
    peak = np.maximum.accumulate(equity)
    peak_times = times[equity >= peak]
    gaps = np.diff(np.append(peak_times, end_ms))
    longest = int(gaps.max()) if len(gaps) else 0
    return longest if longest > bar_ms else 0


def compute(
    equity: npt.NDArray[np.float64],
    times: npt.NDArray[np.int64],
    bar_ms: int,
    balance: float,
    trades: Sequence[Trade],
    fees: float,
    funding: float,
    exposure: float,
) -> dict[str, Any]:
    """Every metric the report shows, keyed by name (None where undefined, e.g. no losing trade)."""
    end_ms = int(times[-1]) + bar_ms if len(times) else 0
    final = float(equity[-1]) if len(equity) else balance
    total_return = final / balance - 1.0
    years = (end_ms - int(times[0])) / YEAR_MS if len(times) else 0.0
    cagr = (final / balance) ** (1.0 / years) - 1.0 if years > 0 and final > 0 else None
    series = np.concatenate(([balance], equity))
    returns = series[1:] / series[:-1] - 1.0
    per_year = YEAR_MS / bar_ms
    sharpe = sortino = None
    if len(returns) > 1:
        std = float(np.std(returns, ddof=1))
        mean = float(np.mean(returns))
        sharpe = _finite(mean / std * math.sqrt(per_year)) if std > 0 else None
        downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
        sortino = _finite(mean / downside * math.sqrt(per_year)) if downside > 0 else None
    dd = drawdown(series)
    pnls = [t.pnl for t in trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_loss = -sum(losses)
    return {
        "initial_balance": balance,
        "final_equity": final,
        "total_return": total_return,
        "cagr": cagr,
        "max_drawdown": float(-dd.min()) if len(dd) else 0.0,
        "max_drawdown_duration_ms": max_drawdown_duration(equity, times, bar_ms, end_ms),
        "sharpe": sharpe,
        "sortino": sortino,
        "win_rate": len(wins) / len(pnls) if pnls else None,
        "profit_factor": sum(wins) / gross_loss if gross_loss > 0 else None,
        "exposure": exposure,
        "trades": len(pnls),
        "average_trade": sum(pnls) / len(pnls) if pnls else None,
        "fees_paid": fees,
        "funding_paid": funding,
        "net_pnl": final - balance,
    }

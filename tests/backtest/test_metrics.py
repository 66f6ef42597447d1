"""Metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from kairos.backtest import metrics
from kairos.backtest.simulate import Trade

from tests.backtest.kit import HOUR, T0

YEAR_HOURS = 365.25 * 24


def trade(pnl: float, fees: float = 1.0) -> Trade:
    return Trade("X", "long", T0, 100.0, T0 + HOUR, 100.0, 1.0, fees, pnl, "signal", "rules.long.entry")


def test_metrics_of_a_small_equity_curve_by_hand() -> None:
    equity = np.array([1100.0, 990.0, 1089.0, 1200.0])
    times = T0 + np.arange(4, dtype=np.int64) * HOUR
    m = metrics.compute(equity, times, HOUR, 1000.0, [trade(100), trade(-110), trade(99), trade(111)], 4.0, 0.5,
                        0.75)  # fmt: skip
    returns = [0.1, -0.1, 0.1, 1200 / 1089 - 1]
    mean = sum(returns) / 4
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 3)
    downside = math.sqrt(0.01 / 4)
    years = 4 * HOUR / (YEAR_HOURS * HOUR)
    assert m["total_return"] == pytest.approx(0.2)
    assert m["cagr"] == pytest.approx(1.2 ** (1 / years) - 1)
    assert m["max_drawdown"] == pytest.approx(0.1)  # 1100 -> 990
    assert m["max_drawdown_duration_ms"] == 3 * HOUR  # peak at bar 0's close, back above it at bar 3's
    assert m["sharpe"] == pytest.approx(mean / std * math.sqrt(YEAR_HOURS))
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(YEAR_HOURS))
    assert m["win_rate"] == 0.75
    assert m["profit_factor"] == pytest.approx(310 / 110)
    assert m["average_trade"] == pytest.approx(200 / 4)
    assert (m["trades"], m["fees_paid"], m["funding_paid"], m["exposure"]) == (4, 4.0, 0.5, 0.75)
    assert m["final_equity"] == 1200.0 and m["net_pnl"] == 200.0


def test_an_unrecovered_drawdown_lasts_until_the_end_and_no_losses_means_no_profit_factor() -> None:
    equity = np.array([1000.0, 1050.0, 1000.0, 1020.0, 1010.0])
    times = T0 + np.arange(5, dtype=np.int64) * HOUR
    m = metrics.compute(equity, times, HOUR, 1000.0, [trade(10)], 0.0, 0.0, 1.0)
    assert m["max_drawdown"] == pytest.approx(50 / 1050)
    assert m["max_drawdown_duration_ms"] == 4 * HOUR  # from bar 1's close to the end of bar 4
    assert m["profit_factor"] is None and m["win_rate"] == 1.0


def test_no_trades_gives_no_trade_metrics() -> None:
    equity = np.full(3, 1000.0)
    m = metrics.compute(equity, T0 + np.arange(3, dtype=np.int64) * HOUR, HOUR, 1000.0, [], 0.0, 0.0, 0.0)
    got = (m["trades"], m["win_rate"], m["average_trade"], m["sharpe"], m["max_drawdown"])
    assert got == (0, None, None, None, 0.0)

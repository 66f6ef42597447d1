"""Constructed candles and strategies for backtest tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from kairos.backtest.config import FillModel
from kairos.backtest.simulate import SymbolResult, simulate
from kairos.strategies.indicators import Candles
from kairos.strategies.language import StrategySpec, parse

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
HOUR = 3_600_000


def bars(rows: list[tuple[float, float, float, float]], start: int = T0, step: int = HOUR) -> Candles:
    """(open, high, low, close) rows as hourly candles."""
    a = np.array(rows, dtype=np.float64)
    t = start + np.arange(len(rows), dtype=np.int64) * step
    return Candles(t, a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.ones(len(rows)))


def flat(price: float) -> tuple[float, float, float, float]:
    return (price, price, price, price)


def threshold_strategy(level: float = 100, protection: dict[str, Any] | None = None, short: bool = False,
                       sizing: dict[str, Any] | None = None) -> StrategySpec:  # fmt: skip
    """Long when close crosses above ``level``, out when it crosses below (short: the mirror)."""
    up, down = {"crosses_above": ["close", level]}, {"crosses_below": ["close", level]}
    rules = {"short": {"entry": down, "exit": up}} if short else {"long": {"entry": up, "exit": down}}
    doc: dict[str, Any] = {
        "name": "threshold", "account": "acc", "universe": {"venue": "binanceusdm", "symbols": ["X/USDT:USDT"],
                                                            "timeframe": "1h"},
        "rules": rules, "sizing": sizing or {"type": "fixed_quantity", "quantity": "1"}, "equity": "1000",
    }  # fmt: skip
    if protection:
        doc["protection"] = protection
    return parse(doc)


def run(spec: StrategySpec, candles: Candles, **fills: Any) -> SymbolResult:
    model = FillModel(**{"fee_rate": Decimal(0), **fills})
    return simulate(spec, "X/USDT:USDT", candles, model, 1000.0, HOUR)

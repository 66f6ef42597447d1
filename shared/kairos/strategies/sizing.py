"""Order size from a strategy's sizing rule, in Decimal (money never goes through a float).

Indicator values arrive as floats; they are turned into decimals once, here, before any
arithmetic on money. Quantities are rounded down to ``QUANTUM`` (the executor rounds again
to the market's own step).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from kairos.strategies.language import (
    FixedNotional,
    FixedQuantity,
    PercentOfEquity,
    RiskPerTrade,
    StrategySpec,
    decimal_text,
)

QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class Size:
    quantity: Decimal
    stop_price: Decimal | None = None


class CannotSize(ValueError):
    """The rule gives no positive size on this candle (e.g. an ATR of zero); nothing is ordered."""


def size(
    spec: StrategySpec, price: Decimal, values: dict[str, float], position_side: str, *, equity: Decimal | None = None
) -> Size:
    """The base quantity of a new position opened at ``price`` (raises CannotSize).

    ``equity``: the account's equity for the percent and risk rules (the engine reads it from
    the portfolio); None uses the document's ``equity`` figure (backtests, an account with no
    balance yet)."""
    rule = spec.sizing
    equity = equity if equity is not None else spec.equity
    stop: Decimal | None = None
    match rule:
        case FixedQuantity():
            qty = rule.quantity
        case FixedNotional():
            qty = rule.notional / price
        case PercentOfEquity():
            assert equity is not None  # validation requires it
            qty = equity * rule.percent / Decimal(100) / price
        case RiskPerTrade():
            assert equity is not None
            atr_text = decimal_text(values.get(rule.atr, float("nan")))
            if atr_text is None or Decimal(atr_text) <= 0:
                raise CannotSize(f"{rule.atr} is {atr_text}: no stop distance to size from")
            distance = Decimal(atr_text) * rule.atr_multiple
            qty = equity * rule.risk_percent / Decimal(100) / distance
            stop = price - distance if position_side == "long" else price + distance
            if stop <= 0:
                raise CannotSize(f"the stop {stop} is not a price (distance {distance} at {price})")
    qty = qty.quantize(QUANTUM, rounding=ROUND_DOWN)
    if qty <= 0:
        raise CannotSize(f"{rule.type} gives a quantity below {QUANTUM} at price {price}")
    return Size(qty, stop)

"""Evaluation: conditions over bars, the decision table, sizing. Pure: no server."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from kairos.strategies.evaluate import Signals, decide, evaluate, signals
from kairos.strategies.indicators import Candles
from kairos.strategies.language import parse
from kairos.strategies.sizing import CannotSize, size


def candles(closes: list[float]) -> Candles:
    c = np.array(closes, dtype=float)
    return Candles(np.arange(len(c), dtype=np.int64) * 60_000, c, c * 1.01, c * 0.99, c, np.ones(len(c)))


def spec(rules: dict[str, Any], indicators: dict[str, Any] | None = None, **extra: Any) -> Any:
    return parse({
        "name": "tt", "account": "a", "universe": {"venue": "v", "symbols": ["S"], "timeframe": "1m"},
        "indicators": indicators if indicators is not None else {"f": {"type": "sma", "period": 2}},
        "rules": rules, "sizing": {"type": "fixed_quantity", "quantity": "1"}, **extra,
    })  # fmt: skip


def test_crosses_fire_on_the_crossing_bar_only() -> None:
    s = spec({"long": {"entry": {"crosses_above": ["close", 10]}, "exit": {"crosses_below": ["close", 10]}}})
    sig = signals(s, candles([9, 9, 11, 12, 10, 9, 11]))
    assert sig.long_entry.tolist() == [False, False, True, False, False, False, True]
    assert sig.long_exit.tolist() == [False, False, False, False, False, True, False]


def test_comparisons_and_or_not() -> None:
    rules = {"long": {"entry": {"all": [{"gt": ["close", 2]}, {"any": [{"lt": ["close", 4]}, {"gte": ["close", 9]}]},
                                        {"not": {"lte": ["close", 3]}}]}}}  # fmt: skip
    sig = signals(spec(rules), candles([1, 2, 3, 3.5, 5, 9, 10]))
    assert sig.long_entry.tolist() == [False, False, False, True, False, True, True]


def test_nothing_fires_while_an_operand_warms_up_not_even_under_not() -> None:
    s = spec({"long": {"entry": {"not": {"gt": ["f", 100]}}}}, {"f": {"type": "sma", "period": 3}})
    sig = signals(s, candles([1, 2, 3, 4]))
    assert sig.long_entry.tolist() == [False, False, True, True]


def test_evaluate_reports_warm_up_until_enough_candles() -> None:
    s = spec({"long": {"entry": {"gt": ["f", 0]}}}, {"f": {"type": "sma", "period": 5}})
    early = evaluate(s, candles([1, 2, 3]), None)
    assert early.warming_up and early.decision is None and (early.bars, early.needed) == (3, 6)
    ready = evaluate(s, candles([1, 2, 3, 4, 5, 6]), None)
    assert not ready.warming_up and ready.decision is not None and ready.values == {"close": 6.0, "f": 4.0}


@pytest.mark.parametrize(("position", "flags"), list(itertools.product([None, "long", "short"],
                                                                      itertools.product([False, True], repeat=4))))
def test_decision_table(position: Any, flags: tuple[bool, bool, bool, bool]) -> None:
    le, lx, se, sx = flags
    sig = Signals(*(np.array([f]) for f in flags), series={})  # type: ignore[arg-type,misc]
    d = decide(position, sig, 0)
    got = None if d is None else (d.action, d.kind, d.order_side, d.position_side, d.rule)
    if position is None:
        want = ("enter_long", "entry", "buy", "long", "rules.long.entry") if le and not se else (
            ("enter_short", "entry", "sell", "short", "rules.short.entry") if se and not le else None)
    elif position == "long":
        want = ("enter_short", "reverse", "sell", "short", "rules.short.entry") if se else (
            ("exit_long", "exit", "sell", "long", "rules.long.exit") if lx else None)
    else:
        want = ("enter_long", "reverse", "buy", "long", "rules.long.entry") if le else (
            ("exit_short", "exit", "buy", "short", "rules.short.exit") if sx else None)
    assert got == want


def test_sizing_rules() -> None:
    rules = {"long": {"entry": {"gt": ["close", 0]}}}
    atr = {"atr": {"type": "atr", "period": 2}}
    price = Decimal("50")
    fixed = {"type": "fixed_notional", "notional": "100"}
    s = parse({**spec(rules).model_dump(mode="json", by_alias=True), "sizing": fixed})
    assert size(s, price, {}, "long").quantity == Decimal("2")
    s = spec(rules, atr, equity="10000")
    s = s.model_copy(update={"sizing": parse({**s.model_dump(mode="json", by_alias=True), "sizing": {
        "type": "percent_of_equity", "percent": "5"}}).sizing})  # fmt: skip
    assert size(s, price, {}, "long").quantity == Decimal("10")
    risk = parse({**s.model_dump(mode="json", by_alias=True), "sizing": {
        "type": "risk_per_trade", "risk_percent": "1", "atr": "atr", "atr_multiple": "2"}})  # fmt: skip
    sized = size(risk, price, {"atr": 2.5}, "long")  # risk 100 over a 5.0 stop distance
    assert (sized.quantity, sized.stop_price) == (Decimal("20"), Decimal("45.0"))
    assert size(risk, price, {"atr": 2.5}, "short").stop_price == Decimal("55.0")
    with pytest.raises(CannotSize):
        size(risk, price, {"atr": 0.0}, "long")

"""Evaluation: a strategy over a candle window -> per-bar signals -> one decision. Pure, no I/O.

``signals`` is vectorised over every bar of the window (a backtest calls it once over the
whole history); the live engine calls ``evaluate`` on the window ending at the candle that
just closed and reads its last bar. Both run the same code, so a backtest and the engine
reach the same decisions at the same candles.

Decisions follow the strategy's position in the symbol (flat, long, short):
flat: a long entry alone enters long, a short entry alone enters short (both at once: nothing);
long: a short entry reverses to short, else a long exit closes; short: the mirror image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from kairos.strategies import indicators
from kairos.strategies.indicators import Candles, Series
from kairos.strategies.language import (
    All,
    Any_,
    CrossesAbove,
    CrossesBelow,
    Gt,
    Gte,
    Lt,
    Lte,
    Not,
    Operand,
    StrategySpec,
    as_number,
)

Flags = npt.NDArray[np.bool_]
Action = Literal["enter_long", "exit_long", "enter_short", "exit_short"]
Side = Literal["long", "short"]


@dataclass(frozen=True)
class Signals:
    """Per bar: did each rule fire. False before warm-up (an operand still NaN)."""

    long_entry: Flags
    long_exit: Flags
    short_entry: Flags
    short_exit: Flags
    series: dict[str, Series]


@dataclass(frozen=True)
class Decision:
    """What to do on one bar: the action, the order kind, and the rule that made it."""

    action: Action
    kind: Literal["entry", "exit", "reverse"]
    order_side: Literal["buy", "sell"]
    position_side: Side
    rule: str


@dataclass(frozen=True)
class Evaluation:
    """The engine's view of one candle: a decision (or none), the values read, warm-up state."""

    decision: Decision | None
    values: dict[str, float]
    bars: int
    needed: int

    @property
    def warming_up(self) -> bool:
        return self.bars < self.needed


def _operand(value: Operand, series: dict[str, Series], n: int) -> Series:
    number = as_number(value)
    if number is not None:
        return np.full(n, number)
    return series[str(value)]


def _previous(a: Series) -> Series:
    out = np.empty_like(a)
    out[0] = np.nan
    out[1:] = a[:-1]
    return out


def condition(cond: Any, series: dict[str, Series], n: int) -> Flags:
    """A condition's truth on every bar; NaN operands (warm-up) make a comparison false."""
    match cond:
        case All():
            result = np.ones(n, dtype=bool)
            for c in cond.all:
                result &= condition(c, series, n)
            return result
        case Any_():
            result = np.zeros(n, dtype=bool)
            for c in cond.any:
                result |= condition(c, series, n)
            return result
        case Not():
            # not over a warming-up operand stays false: "not (x > y)" is unknown, not true
            inner = condition(cond.not_, series, n)
            return ~inner & _defined(cond.not_, series, n)
        case CrossesAbove() | CrossesBelow():
            a_, b_ = cond.crosses_above if isinstance(cond, CrossesAbove) else cond.crosses_below
            a, b = _operand(a_, series, n), _operand(b_, series, n)
            pa, pb = _previous(a), _previous(b)
            with np.errstate(invalid="ignore"):
                if isinstance(cond, CrossesAbove):
                    return (pa <= pb) & (a > b)
                return (pa >= pb) & (a < b)
        case Gt() | Gte() | Lt() | Lte():
            name = type(cond).__name__.lower()
            a_, b_ = getattr(cond, name)
            a, b = _operand(a_, series, n), _operand(b_, series, n)
            with np.errstate(invalid="ignore"):
                return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[name]  # type: ignore[no-any-return]
    raise AssertionError(cond)


def _defined(cond: Any, series: dict[str, Series], n: int) -> Flags:
    """Bars on which every operand under ``cond`` has a value (crosses: also the bar before)."""
    from kairos.strategies.language import walk

    ok = np.ones(n, dtype=bool)
    for _path, operand in walk(cond, ""):
        a = _operand(operand, series, n)
        ok &= ~np.isnan(a)
        if isinstance(cond, CrossesAbove | CrossesBelow):
            ok &= ~np.isnan(_previous(a))
    return ok


def signals(spec: StrategySpec, candles: Candles) -> Signals:
    """Every rule's truth on every bar of ``candles`` (vectorised; what backtests call)."""
    n = len(candles)
    series = indicators.compute(spec, candles)
    none = np.zeros(n, dtype=bool)

    def rule(side: Side, which: str) -> Flags:
        rules = getattr(spec.rules, side)
        cond = getattr(rules, which) if rules is not None else None
        return condition(cond, series, n) if cond is not None else none

    return Signals(rule("long", "entry"), rule("long", "exit"), rule("short", "entry"), rule("short", "exit"), series)


def decide(position: Side | None, sig: Signals, i: int) -> Decision | None:
    """The decision on bar ``i`` for a strategy holding ``position`` (None: flat)."""
    le, lx, se, sx = bool(sig.long_entry[i]), bool(sig.long_exit[i]), bool(sig.short_entry[i]), bool(sig.short_exit[i])
    if position is None:
        if le and not se:
            return Decision("enter_long", "entry", "buy", "long", "rules.long.entry")
        if se and not le:
            return Decision("enter_short", "entry", "sell", "short", "rules.short.entry")
        return None
    if position == "long":
        if se:
            return Decision("enter_short", "reverse", "sell", "short", "rules.short.entry")
        if lx:
            return Decision("exit_long", "exit", "sell", "long", "rules.long.exit")
        return None
    if le:
        return Decision("enter_long", "reverse", "buy", "long", "rules.long.entry")
    if sx:
        return Decision("exit_short", "exit", "buy", "short", "rules.short.exit")
    return None


@dataclass(frozen=True)
class Plan:
    """What evaluating a strategy needs besides candles, computed once per strategy version."""

    needed: int  # bars before the first decision (warm-up)
    window: int  # bars the engine reads
    reported: frozenset[str]  # the values a signal carries: indicators and the close


_PLANS: dict[int, tuple[StrategySpec, Plan]] = {}


def plan(spec: StrategySpec) -> Plan:
    """The strategy's plan (cached by object: stored versions are parsed once and never change)."""
    hit = _PLANS.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    from kairos.strategies.language import operand_names

    reported = frozenset((operand_names(spec) - {"open", "high", "low", "volume"}) | {"close"})
    result = Plan(indicators.warmup_bars(spec), indicators.window_bars(spec), reported)
    if len(_PLANS) > 10_000:
        _PLANS.clear()
    _PLANS[id(spec)] = (spec, result)  # the spec is held, so its id is not reused while cached
    return result


def evaluate(spec: StrategySpec, candles: Candles, position: Side | None) -> Evaluation:
    """The decision on the last candle of the window, with the values it read."""
    p = plan(spec)
    n = len(candles)
    if n < p.needed:
        return Evaluation(None, {}, n, p.needed)
    sig = signals(spec, candles)
    values = {name: float(s[-1]) for name, s in sig.series.items() if name in p.reported}
    return Evaluation(decide(position, sig, n - 1), values, n, p.needed)

"""The simulated venue: a strategy's decisions over one symbol's candles -> fills, trades, equity.

Decisions come from the strategy evaluation live trading uses (``evaluate.signals`` over the
whole history, vectorised, then ``evaluate.decide`` bar by bar with the position held), and
entry sizes from the strategy's own sizing rule (``sizing.size`` at the decision candle's
close, as the engine sizes). Only the venue is replaced, by the fill model of ``FillModel``.

Lean by construction: indicators and rule truth are numpy arrays; the Python loop visits only
bars where a rule fired, and a protected position's stop, take-profits and trailing stop are
found with vectorised searches over the bars between two such events. Arithmetic is IEEE
float64 in a fixed order (no parallel reductions, no randomness), so the same candles give the
same bits in every process; results are rounded to fixed decimals when written out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from kairos.backtest.config import FillModel
from kairos.positions.model import PositionSide, Protection
from kairos.positions.targets import _offset as protection_price
from kairos.strategies import evaluate
from kairos.strategies.indicators import Candles
from kairos.strategies.language import RiskPerTrade, StrategySpec
from kairos.strategies.sizing import QUANTUM, CannotSize, size

Reason = Literal["signal", "reverse", "stop_loss", "take_profit", "trailing_stop", "end_of_data"]
_SIDE = {"long": PositionSide.LONG, "short": PositionSide.SHORT}


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed (part of a) position. ``fees`` holds its share of the entry fee and its exit fee;
    ``pnl`` is net of both."""

    symbol: str
    side: str
    entry_time: int
    entry_price: float
    exit_time: int
    exit_price: float
    quantity: float
    fees: float
    pnl: float
    reason: Reason
    entry_rule: str


@dataclass(frozen=True, slots=True)
class Signal:
    """A decision of the strategy (what the live engine would emit as ``signal.generated``)."""

    symbol: str
    open_time: int
    action: str
    rule: str
    quantity: float


@dataclass
class _Open:
    side: str
    sign: int
    qty: float
    peak: float
    entry_price: float
    entry_time: int
    entry_bar: int
    fee_per_unit: float
    rule: str
    stop: float | None
    tps: list[tuple[float, float]]
    trail_rate: float | None
    trail_activation: float | None
    watch_from: int
    best: float = 0.0
    active: bool = True


@dataclass
class SymbolResult:
    """What one symbol's simulation produced: per-bar position and realised PnL for the equity curve."""

    symbol: str
    open_time: npt.NDArray[np.int64]
    close: npt.NDArray[np.float64]
    trades: list[Trade] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    #: per bar, after its close: signed quantity held, its average entry, realised PnL so far
    qty: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    entry: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    realised: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    fees: float = 0.0
    funding: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def equity_change(self) -> npt.NDArray[np.float64]:
        """Equity minus the starting balance at each bar's close (realised + unrealised - funding)."""
        return self.realised + self.qty * (self.close - self.entry) - self.funding


class _Scalars:
    """Python scalars out of a numpy array, one element at a time (no million-element list)."""

    __slots__ = ("_a",)

    def __init__(self, a: npt.NDArray[Any]) -> None:
        self._a = a

    def __getitem__(self, i: int) -> Any:
        return self._a[i].item()


class _Sim:
    def __init__(
        self, spec: StrategySpec, symbol: str, candles: Candles, fills: FillModel, balance: float, bar_ms: int
    ) -> None:
        self.spec, self.symbol, self.c, self.f = spec, symbol, candles, fills
        self.fee = float(fills.fee_rate)
        self.slip = float(fills.slippage_bps) / 10_000.0
        self.balance = balance
        self.bar_ms = bar_ms
        n = len(candles)
        self.n = n
        self.res = SymbolResult(symbol, candles.open_time, candles.close)
        # scalar reads happen only at events (a few per event), straight from the arrays
        self.opens, self.closes = _Scalars(candles.open), _Scalars(candles.close)
        self.times = _Scalars(candles.open_time)
        self.realised = 0.0
        self.pos: _Open | None = None
        # change points of the per-bar state: (bar, signed qty, entry price, realised after the bar)
        self.changes: list[tuple[int, float, float, float]] = []
        self.gate: Gate | None = None
        self.sig: evaluate.Signals
        self.flags: Any = None

    # --- fills -----------------------------------------------------------------------

    def _market_price(self, bar: int, buy: bool, at_close: bool) -> float:
        raw = self.closes[bar] if at_close else self.opens[bar]
        return raw * (1.0 + self.slip) if buy else raw * (1.0 - self.slip)

    def _close_part(self, qty: float, price: float, bar: int, reason: Reason) -> None:
        pos = self.pos
        assert pos is not None
        exit_fee = qty * price * self.fee
        entry_fee = qty * pos.fee_per_unit
        pnl = pos.sign * qty * (price - pos.entry_price) - entry_fee - exit_fee
        self.realised += pos.sign * qty * (price - pos.entry_price) - exit_fee
        self.res.fees += exit_fee
        self.res.trades.append(Trade(
            self.symbol, pos.side, pos.entry_time, pos.entry_price, self.times[bar], price, qty,
            entry_fee + exit_fee, pnl, reason, pos.rule,
        ))  # fmt: skip
        pos.qty -= qty
        if pos.qty <= 1e-12:
            self.pos = None
        self.changes.append((bar, pos.sign * pos.qty if self.pos else 0.0, pos.entry_price if self.pos else 0.0,
                             self.realised))  # fmt: skip

    def _open(self, side: str, qty: float, price: float, bar: int, rule: str, watch_from: int) -> None:
        fee = qty * price * self.fee
        self.realised -= fee
        self.res.fees += fee
        sign = 1 if side == "long" else -1
        stop, tps, rate, act = self._protection(side, price, qty)
        # an activation price the entry is already beyond trails at once from the entry price, as
        # live: position-sync drops it (the venue would refuse the order) and the trail starts there
        active = act is None or (price >= act if sign > 0 else price <= act)
        self.pos = _Open(side, sign, qty, qty, price, self.times[bar], bar, price * self.fee, rule,
                         stop, tps, rate, act, watch_from, price, active)  # fmt: skip
        self.changes.append((bar, sign * qty, price, self.realised))

    def _protection(
        self, side: str, entry: float, qty: float
    ) -> tuple[float | None, list[tuple[float, float]], float | None, float | None]:
        prot: Protection | None = self.spec.protection
        if prot is None or prot.empty:
            return None, [], None, None
        ps, e = _SIDE[side], Decimal(repr(entry))
        stop = float(protection_price(e, ps, False, prot.stop_loss)) if prot.stop_loss else None
        tps: list[tuple[float, float]] = []
        left = qty
        for level in prot.take_profits:
            price = float(protection_price(e, ps, True, level))
            part = float(level.quantity) if level.quantity is not None else qty * float(level.fraction or 0)
            part = min(left, float(Decimal(repr(part)).quantize(QUANTUM, rounding="ROUND_DOWN")))
            if part > 0:
                tps.append((price, part))
                left -= part
        rate = act = None
        if prot.trailing is not None:
            rate = float(prot.trailing.callback_rate) / 100.0
            act = float(prot.trailing.activation_price) if prot.trailing.activation_price is not None else None
        return stop, tps, rate, act

    # --- protection between two decisions ----------------------------------------------

    def _watch(self, last: int) -> None:
        """Stops, take-profits and trailing stop of the open position over bars watch_from..last."""
        while self.pos is not None and self.pos.watch_from <= last:
            pos = self.pos
            if pos.stop is None and not pos.tps and pos.trail_rate is None:
                return
            a, b = pos.watch_from, last + 1
            lo, hi, op = self.c.low[a:b], self.c.high[a:b], self.c.open[a:b]
            long = pos.sign > 0
            adverse, favour = (lo, hi) if long else (hi, lo)
            stop_line = np.full(b - a, np.nan)
            kind = np.zeros(b - a, dtype=np.int8)  # 1 stop loss, 2 trailing
            if pos.stop is not None:
                stop_line[:] = pos.stop
                kind[:] = 1
            if pos.trail_rate is not None:
                trail = self._trail_line(pos, favour, long)
                tighter = np.isnan(stop_line) | ((trail > stop_line) if long else (trail < stop_line))
                tighter &= ~np.isnan(trail)
                stop_line = np.where(tighter, trail, stop_line)
                kind = np.where(tighter, np.int8(2), kind)
            with np.errstate(invalid="ignore"):
                stop_hit = (adverse <= stop_line) if long else (adverse >= stop_line)
            tp_hit = np.zeros(b - a, dtype=bool)
            if pos.tps:
                tp_price = pos.tps[0][0]
                tp_hit = (favour >= tp_price) if long else (favour <= tp_price)
            any_hit = stop_hit | tp_hit
            if not any_hit.any():
                self._advance_trail(pos, a, b)
                pos.watch_from = b
                return
            j = int(np.argmax(any_hit))
            bar = a + j
            if stop_hit[j] and not (tp_hit[j] and self.f.both_touched == "tp_first"):
                level = float(stop_line[j])
                # a candle opening beyond the stop fills at its open (worse than the stop)
                raw = min(level, float(op[j])) if long else max(level, float(op[j]))
                price = raw * (1.0 - self.slip) if long else raw * (1.0 + self.slip)
                self._close_part(pos.qty, price, bar, "trailing_stop" if kind[j] == 2 else "stop_loss")
                return
            self._take_profits(bar, float(op[j]), long)
            if self.pos is not None:
                # the stop of that same bar is looked at again (tp_first); else from the next bar
                nxt = bar if stop_hit[j] else bar + 1
                self._advance_trail(self.pos, a, nxt)
                self.pos.watch_from = nxt

    def _take_profits(self, bar: int, open_: float, long: bool) -> None:
        """Every take-profit level the bar reaches fills at its price (at the open if it opened beyond)."""
        pos = self.pos
        assert pos is not None
        favour = float(self.c.high[bar] if long else self.c.low[bar])
        while pos.tps and self.pos is not None:
            price, part = pos.tps[0]
            if (favour < price) if long else (favour > price):
                break
            pos.tps.pop(0)
            fill = max(price, open_) if long else min(price, open_)
            self._close_part(min(part, pos.qty), fill, bar, "take_profit")

    def _trail_line(self, pos: _Open, favour: npt.NDArray[np.float64], long: bool) -> npt.NDArray[np.float64]:
        """The trailing stop in force during each bar of the scan: from the best price reached
        before that bar since activation (the entry price counts when there is no activation
        price); a bar's own extreme moves the stop from the next bar on. NaN: not active."""
        assert pos.trail_rate is not None
        seen = np.concatenate(([pos.best], favour[:-1]))
        if pos.active:
            best = np.maximum.accumulate(seen) if long else np.minimum.accumulate(seen)
        else:
            act = pos.trail_activation
            assert act is not None
            reached = (favour[:-1] >= act) if long else (favour[:-1] <= act)
            active = np.concatenate(([False], np.logical_or.accumulate(reached)))
            masked = np.where(active, seen, -np.inf if long else np.inf)
            best = np.maximum.accumulate(masked) if long else np.minimum.accumulate(masked)
            best = np.where(active, best, np.nan)
        return best * (1.0 - pos.trail_rate) if long else best * (1.0 + pos.trail_rate)

    def _advance_trail(self, pos: _Open, a: int, b: int) -> None:
        """Fold the extremes of bars a..b-1 into the trailing state (bars the scan has passed)."""
        if pos.trail_rate is None or b <= a:
            return
        long = pos.sign > 0
        favour = self.c.high[a:b] if long else self.c.low[a:b]
        if not pos.active:
            act = pos.trail_activation
            assert act is not None
            reached = (favour >= act) if long else (favour <= act)
            if not reached.any():
                return
            k = int(np.argmax(reached))
            pos.active, pos.best, favour = True, float(favour[k]), favour[k:]
        pos.best = max(pos.best, float(favour.max())) if long else min(pos.best, float(favour.min()))

    # --- the run ------------------------------------------------------------------------

    def run(self) -> SymbolResult:
        for i in self.events():
            self.step(i)
        return self.end()

    def events(self) -> list[int]:
        """The bars where a rule fired (the only bars ``step`` visits); evaluates the rules once."""
        if self.n == 0:
            return []
        sig = evaluate.signals(self.spec, self.c)
        events = np.flatnonzero(sig.long_entry | sig.long_exit | sig.short_entry | sig.short_exit)
        # the same flags at the event bars only, read by the same ``decide`` the live engine uses
        at = events.tolist()

        def only(flags: npt.NDArray[np.bool_]) -> dict[int, bool]:
            return dict(zip(at, flags[events].tolist(), strict=True))

        self.sig = sig
        self.flags = SimpleNamespace(long_entry=only(sig.long_entry), long_exit=only(sig.long_exit),
                                     short_entry=only(sig.short_entry), short_exit=only(sig.short_exit))  # fmt: skip
        return at

    def step(self, i: int) -> None:
        """The strategy's decision at bar ``i`` and its order; the risk gate (when set) decides
        each entry as the guardian does live."""
        n = self.n
        at_close = self.f.fill == "close"
        if self.pos is not None:
            self._watch(i)
        position = self.pos.side if self.pos is not None else None
        d = evaluate.decide(position, self.flags, i)  # type: ignore[arg-type]
        if d is None:
            return
        fill_bar = i if at_close else i + 1
        if d.kind == "exit":
            self.res.signals.append(Signal(self.symbol, self.times[i], d.action, d.rule,
                                           self.pos.qty if self.pos else 0.0))  # fmt: skip
            if fill_bar < n and self.pos is not None:
                if self.gate is not None:
                    self.gate.exit(self, i)
                self._close_part(self.pos.qty, self._market_price(fill_bar, d.order_side == "buy", at_close),
                                 fill_bar, "signal")  # fmt: skip
            return
        qty = self._size(d.position_side, i, self.sig)
        self.res.signals.append(Signal(self.symbol, self.times[i], d.action, d.rule, qty))
        if fill_bar >= n:
            return  # decided on the last candle: there is no next open to fill at
        if self.gate is not None and qty > 0:
            qty = self.gate.entry(self, i, d.position_side, d.rule, qty)
        price = self._market_price(fill_bar, d.order_side == "buy", at_close)
        if self.pos is not None:
            self._close_part(self.pos.qty, price, fill_bar, "reverse")
        if qty > 0:
            self._open(d.position_side, qty, price, fill_bar, d.rule, fill_bar + 1 if at_close else fill_bar)

    def end(self) -> SymbolResult:
        n = self.n
        if n == 0:
            return self._finish()
        if self.pos is not None:
            self._watch(n - 1)
        if self.pos is not None:
            self._close_part(self.pos.qty, float(self.c.close[n - 1]), n - 1, "end_of_data")
        return self._finish()

    def watch_to(self, bar: int) -> None:
        """Apply the open position's protective orders up to ``bar`` (the risk gate reads every
        symbol's book at one time; the simulator otherwise catches up at its next event)."""
        if self.pos is not None and bar >= 0:
            self._watch(bar)

    def _size(self, side: str, i: int, sig: evaluate.Signals) -> float:
        close = self.closes[i]
        if self.f.sizing == "all_equity":
            equity = self.balance + self.realised
            if self.pos is not None:
                equity += self.pos.sign * self.pos.qty * (close - self.pos.entry_price)
            cost = 1.0 + self.fee + self.slip
            q = Decimal(repr(max(equity, 0.0) / (close * cost))).quantize(QUANTUM, rounding="ROUND_DOWN")
            return float(q)
        # only risk-per-trade sizing reads an indicator (its ATR); the others need no values
        rule = self.spec.sizing
        values = {rule.atr: float(sig.series[rule.atr][i])} if isinstance(rule, RiskPerTrade) else {}
        try:
            return float(size(self.spec, Decimal(repr(close)), values, side).quantity)
        except CannotSize:
            return 0.0

    def _finish(self) -> SymbolResult:
        n = self.n
        if self.changes:
            ch = np.array(self.changes, dtype=np.float64)
            # the state after each bar: the last change made on or before it (later changes win)
            idx = np.searchsorted(ch[:, 0], np.arange(n), side="right") - 1
            valid = idx >= 0
            safe = np.where(valid, idx, 0)
            qty = np.where(valid, ch[safe, 1], 0.0)
            entry = np.where(valid, ch[safe, 2], 0.0)
            realised = np.where(valid, ch[safe, 3], 0.0)
        else:
            qty, entry, realised = np.zeros(n), np.zeros(n), np.zeros(n)
        self.res.qty, self.res.entry, self.res.realised = qty, entry, realised
        rate = float(self.f.funding_rate_8h)
        if rate and n:
            per_bar = rate * self.bar_ms / 28_800_000.0
            self.res.funding = np.cumsum(qty * self.c.close * per_bar)
        else:
            self.res.funding = np.zeros(n)
        return self.res


def simulate(
    spec: StrategySpec,
    symbol: str,
    candles: Candles,
    fills: FillModel,
    balance: float,
    bar_ms: int,
    gate: Gate | None = None,
) -> SymbolResult:
    """One symbol's backtest (pure: no I/O, no clock); ``gate`` decides its entries when given."""
    sim = _Sim(spec, symbol, candles, fills, balance, bar_ms)
    sim.gate = gate
    return sim.run()


class Gate(Protocol):
    """The risk checks of an entry: returns the quantity approved (0.0: rejected)."""

    def entry(self, sim: _Sim, bar: int, side: str, rule: str, qty: float) -> float: ...

    def exit(self, sim: _Sim, bar: int) -> None: ...


def simulate_together(
    spec: StrategySpec,
    series: dict[str, Candles],
    fills: FillModel,
    balance: float,
    bar_ms: int,
    make_gate: Callable[[list[_Sim]], Gate],
) -> list[SymbolResult]:
    """Every symbol's backtest with one risk gate over all of them: the symbols' decisions are
    visited in candle-time order (ties in the order of ``series``), so the gate sees the book as
    it stands at each decision. Pure, like ``simulate``."""
    sims = [_Sim(spec, symbol, c, fills, balance, bar_ms) for symbol, c in series.items()]
    gate = make_gate(sims)
    order: list[tuple[int, int, int]] = []
    for k, sim in enumerate(sims):
        sim.gate = gate
        at = sim.events()
        order.extend(zip(sim.c.open_time[at].tolist() if at else [], [k] * len(at), at, strict=True))
    order.sort()
    for _t, k, i in order:
        sims[k].step(i)
    return [sim.end() for sim in sims]

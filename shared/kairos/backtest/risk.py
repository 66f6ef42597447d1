"""The risk guardian's checks inside a backtest.

Every entry the strategy decides goes through ``kairos.risk.decision.decide``, the function
the live guardian calls, with the numbers read from the simulated book at the decision
candle's time instead of Postgres:

- exposure: every symbol's open quantity at its latest close (the decision candle's close for
  the intent's own symbol, which is also the price the strategy sizes at), plus the order;
- open positions: the symbols holding a position (an entry decided earlier counts from its
  decision on, as a live approval reserves until its order ends);
- orders per minute: approved intents (entries and signal exits) with a candle time in the
  60 seconds up to this one;
- daily loss: realised PnL net of fees since 00:00 UTC of the candle's day, plus the open
  positions' PnL at their latest close (funding is not in it);
- a daily-loss breach engages the scope's kill switch, which in a backtest stays engaged until
  the next 00:00 UTC (live it stays until an operator releases it);
- quantity: rounded down to the market's step, below its minimum rejected, as live. This
  check is made in every run, with limits or without (the live guardian makes it with none).

Checks that have no meaning over stored candles do not apply and are not made: the mark
price's age, an executor RECOVERING or never reported, the clock guard, strategy stops and the
account's mode. The backtest is one strategy on one account, so the global, account and
strategy scopes all read the same book; each keeps its own limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from kairos.backtest.simulate import _Sim
from kairos.risk import decision
from kairos.risk.decision import Scope
from kairos.risk.limits import GLOBAL_ID
from kairos.strategies.language import StrategySpec
from kairos.venues import registry

DAY_MS = 86_400_000
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Rejection:
    symbol: str
    open_time: int
    side: str
    rule: str
    quantity: float
    reason_code: str
    message: str
    scope: Scope | None
    observed: Decimal | None
    limit: Decimal | None


def scopes_of(spec: StrategySpec) -> list[Scope]:
    """The scopes the live guardian checks for this strategy's intents, in its order."""
    return [("global", GLOBAL_ID), ("account", spec.account), ("strategy", spec.name)]


class RiskGate:
    """One backtest's guardian: the limits of its scopes and the approvals it has made."""

    def __init__(
        self, sims: list[_Sim], venue: str, scopes: list[Scope], limits: dict[Scope, dict[str, Decimal]]
    ) -> None:
        self.sims, self.venue, self.scopes, self.limits = sims, venue, scopes, limits
        self.approved_at: list[int] = []  # candle times of approved intents, ascending
        self.killed: dict[Scope, int] = {}  # scope -> the day (ms) its kill switch was engaged
        self.rejections: list[Rejection] = []
        self.lots: dict[str, tuple[Decimal | None, Decimal]] = {}

    def _lot(self, symbol: str) -> tuple[Decimal | None, Decimal]:
        if symbol not in self.lots:
            try:
                spec = registry.definition(self.venue).market(symbol)
            except registry.UnknownVenue:
                spec = None
            self.lots[symbol] = (spec.step_size, spec.min_qty) if spec is not None else (None, Decimal(0))
        return self.lots[symbol]

    def _recent(self, t: int) -> int:
        return sum(1 for a in self.approved_at if a > t - MINUTE_MS)

    def exit(self, sim: _Sim, bar: int) -> None:
        self.approved_at.append(int(sim.times[bar]))

    def entry(self, sim: _Sim, bar: int, side: str, rule: str, qty: float) -> float:
        t = int(sim.times[bar])
        day = t - t % DAY_MS
        price = Decimal(repr(float(sim.closes[bar])))
        requested = Decimal(repr(qty))
        step, min_qty = self._lot(sim.symbol)
        if not self.limits:
            # no limit in force: the guardian's lot rule alone (it reads no book), as live with none
            v = decision.decide(
                increases=True,
                requested=requested,
                quantity=decision.lot(requested, step),
                min_qty=min_qty,
                hard=None,
                opens=sim.pos is None,
                scopes=(),
                limits={},
                states={},
            )
            return self._verdict(v, sim, t, day, side, rule, qty)
        exposure_all, exposure_sym, held, day_pnl = self._book(sim, t, day, price)
        switch = next(((s[0], s[1], "daily loss breach") for s in self.scopes if self.killed.get(s) == day), None)
        state = decision.ScopeState(
            symbol_exposure=exposure_sym,
            total_exposure=exposure_all,
            open_positions=held,
            orders_last_minute=self._recent(t),
            daily_loss=max(Decimal(0), -day_pnl),
        )
        v = decision.decide(
            increases=True,
            requested=requested,
            quantity=decision.lot(requested, step),
            min_qty=min_qty,
            hard=decision.Hard(venue=self.venue, symbol=sim.symbol, price=price, kill_switch=switch),
            opens=sim.pos is None,
            scopes=self.scopes,
            limits=self.limits,
            states={s: state for s in self.scopes},
        )
        return self._verdict(v, sim, t, day, side, rule, qty)

    def _verdict(self, v: decision.Verdict, sim: _Sim, t: int, day: int, side: str, rule: str, qty: float) -> float:
        if v.breach is not None:
            self.killed[v.breach[0]] = day
        if not v.approved:
            assert v.code is not None
            self.rejections.append(Rejection(sim.symbol, t, side, rule, qty, v.code, v.message, v.scope,
                                             v.observed, v.limit))  # fmt: skip
            return 0.0
        self.approved_at.append(t)
        return float(v.quantity)

    def _book(self, me: _Sim, t: int, day: int, price: Decimal) -> tuple[Decimal, Decimal, int, Decimal]:
        """(total exposure, this symbol's exposure, positions held, PnL since ``day``) at time ``t``."""
        total = mine = pnl = Decimal(0)
        held = 0
        for sim in self.sims:
            j = int(np.searchsorted(sim.c.open_time, t, side="right")) - 1
            if j < 0:
                continue
            sim.watch_to(j)
            mark = price if sim is me else Decimal(repr(float(sim.closes[j])))
            pnl += Decimal(repr(sim.realised - _realised_before(sim, day)))
            pos = sim.pos
            if pos is None:
                continue
            held += 1
            value = Decimal(repr(pos.qty)) * mark
            total += value
            if sim is me:
                mine = value
            pnl += pos.sign * Decimal(repr(pos.qty)) * (mark - Decimal(repr(pos.entry_price)))
        return total, mine, held, pnl


def _realised_before(sim: _Sim, day: int) -> float:
    """The symbol's realised PnL (net of fees) as it stood before candle time ``day``."""
    before = 0.0
    for bar, _qty, _entry, realised in sim.changes:
        if int(sim.times[bar]) >= day:
            break
        before = realised
    return before


def rejections_doc(rejections: list[Rejection], iso: Any) -> list[dict[str, Any]]:
    """The rejected entries of a run, as stored with its result."""
    return [
        {"symbol": r.symbol, "candle_open_time": when, "side": r.side, "rule": r.rule, "quantity": f"{r.quantity:.8f}",
         "reason_code": r.reason_code, "message": r.message,
         "scope": f"{r.scope[0]}:{r.scope[1]}" if r.scope else None,
         "observed": str(r.observed) if r.observed is not None else None,
         "limit": str(r.limit) if r.limit is not None else None}
        for r, when in zip(rejections, iso([r.open_time for r in rejections]), strict=True)
    ]  # fmt: skip

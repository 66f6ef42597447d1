"""Parity with the SHADOW live path, past protective exits.

One strategy runs through every live stage (strategy-engine -> risk-guardian -> executor on a
SHADOW account -> positions; position-sync's stop-loss and take-profit orders, resting in the
SHADOW account and triggered by the reconciler) over the simulator's candles, and a backtest
runs over the same stored candles. Both give the same signals at the same candles and the same
trades; prices differ only by the documented rules (docs/BACKTEST.md, "Parity with live").

The live path is shown the prices the backtest's fill model reads. Before the strategy hears of
candle i, the simulator's price is set to candle i+1's open, so a decision fills at the next
open (``next_open``, zero slippage). While a position is open, candle i's range is walked as
the backtest's ``stop_first`` rule reads it: from the open toward the extreme on the stop's
side, through every resting protective trigger on the way, then toward the other extreme.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from kairos.backtest import runner
from kairos.backtest.config import BacktestRequest, FillModel
from kairos.contracts.codec import to_cloudevent
from kairos.venues.binance_usdm.markets import by_symbol
from kairos_testkit import risk as rk
from kairos_testkit.execution import ACCOUNT
from kairos_testkit.protection_system import FUNCTIONS, System, system
from kairos_testkit.strategies import BTC, candle_events, create_and_start, example, with_doc
from kairos_testkit.venue_sim import VenueSimHandle

NATIVE = "BTCUSDT"
MARKET = by_symbol()[NATIVE]
TICK = MARKET.tick_size
# Protection tight enough that the simulator's two hours hold several protective exits.
STOP = {"stop_loss": {"distance_pct": "0.3"}}
STOP_AND_TP = {**STOP, "take_profits": [{"distance_pct": "0.4", "fraction": "1"}]}
REASON = {"SL": "stop_loss", "TP": "take_profit"}


@dataclass
class Trade:
    side: str
    quantity: Decimal
    entry_bar: int
    entry_price: Decimal
    entry_fee: Decimal  # per unit
    exit_bar: int | None = None
    exit_price: Decimal | None = None
    exit_fee: Decimal = Decimal(0)
    reason: str | None = None
    trigger: Decimal | None = None  # a protective exit: the SHADOW order's trigger price

    @property
    def pnl(self) -> Decimal:
        assert self.exit_price is not None
        sign = 1 if self.side == "long" else -1
        return sign * self.quantity * (self.exit_price - self.entry_price) - self.fees

    @property
    def fees(self) -> Decimal:
        return self.entry_fee * self.quantity + self.exit_fee


def iso(t: Any) -> str:
    return str(t.strftime("%Y-%m-%dT%H:%M:%SZ"))


def through(start: Decimal, end: Decimal, triggers: list[Decimal]) -> list[Decimal]:
    """The prices from ``start`` to ``end``: each trigger between them in the order reached, then ``end``."""
    lo, hi = min(start, end), max(start, end)
    on_the_way = sorted((t for t in triggers if lo <= t <= hi and t != start), reverse=end < start)
    return [*on_the_way, end]


class ShadowRun:
    """The live path driven over stored candles; ``fills``: (candle index, exec.fill) in order.

    The reconciler looks at the resting SHADOW orders whenever the price reaches one's trigger
    (at any other price it finds nothing to fill, so the test does not ask it there)."""

    def __init__(self, s: System, sim: VenueSimHandle, conn: psycopg.Connection, kinds: set[str]) -> None:
        self.s, self.sim, self.conn, self.kinds = s, sim, conn, kinds
        self.fills: list[tuple[int, dict[str, Any]]] = []
        self.held: tuple[str | None, list[Decimal]] = (None, [])  # read again after anything happened

    def price(self, price: Decimal) -> None:
        self.sim.control.set_price(NATIVE, str(price))
        rk.set_mark(self.conn, BTC, price)  # the guardian wants a fresh mark

    def settled(self, bar: int) -> None:
        """After a settle: the new fills (they belong to candle ``bar``) and the position now held."""
        self.s.settle()
        self.fills += [(bar, f) for f in self.s.outbox("kairos.exec.fill")[len(self.fills) :]]
        held = [p for p in self.s.positions() if p["status"] != "CLOSED"]
        if not held:
            self.held = (None, [])
            return
        resting = self.s.orders(active=True)
        assert {o["kind"] for o in resting} == self.kinds, f"position {held[0]['position_id']} is not protected"
        self.held = (held[0]["side"], [Decimal(o["stop"]) for o in resting])

    def walk(self, i: int, candle: Any) -> None:
        """Candle i's range while a position is open: every protective fill here belongs to candle i."""
        side, triggers = self.held
        if side is None:
            return
        first, second = (candle.low, candle.high) if side == "LONG" else (candle.high, candle.low)
        for price in [*through(candle.open, first, triggers), *through(first, second, triggers)]:
            if self.held[0] is None:
                return  # closed: no decision before the candle's close
            if price in triggers:
                self.price(price)
                self.settled(i)

    def decide(self, i: int, candles: list[Any]) -> None:
        """Candle i to the strategy engine at the next open's price: what fills now (the decision's
        order, or a stop the next open gapped through) belongs to candle i+1."""
        nxt = candles[i + 1].data.open if i + 1 < len(candles) else candles[i].data.close
        self.price(nxt)
        self.s.deliver("strategy-engine", to_cloudevent(candles[i]))
        gapped = len(through(candles[i].data.close, nxt, self.held[1])) > 1  # the open is beyond a trigger
        if self.s.pump() or gapped:
            self.settled(i + 1)


def shadow_trades(run: ShadowRun, s: System, when: list[str]) -> list[Trade]:
    """Trades as the backtest counts them, from the SHADOW fills: a protective fill closes
    (``stop_loss``/``take_profit``), a strategy fill opens, closes (``signal``) or reverses
    (the old trade closes as ``reverse``, the rest opens the new one); fees split by quantity."""
    orders = {o["command_id"]: o for o in s.orders()}
    trades: list[Trade] = []
    open_: Trade | None = None
    for bar, f in run.fills:
        if bar == len(when):
            break  # a decision on the last candle: the backtest has no next open to fill it at
        qty, price, fee = Decimal(f["quantity"]), Decimal(f["price"]), Decimal(f["fee"])
        side = "long" if f["side"] == "buy" else "short"
        order = orders.get(f["command_id"])
        kind = order["kind"] if order else None
        if open_ is not None and side != open_.side:
            closing = min(qty, open_.quantity)
            assert closing == open_.quantity, "a partial close: the test's protection closes whole positions"
            reason = REASON[kind] if kind else ("signal" if qty == closing else "reverse")
            open_.exit_bar, open_.exit_price, open_.exit_fee, open_.reason = bar, price, fee * closing / qty, reason
            open_.trigger = Decimal(order["stop"]) if order else None
            trades.append(open_)
            open_, qty = None, qty - closing
        if qty > 0:
            assert kind is None and open_ is None, f"fill {f} adds to a position"
            open_ = Trade(side, qty, bar, price, fee / Decimal(f["quantity"]))
    if open_ is not None:
        trades.append(open_)
    return trades


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "protection"),
    [  # sma-crossover: reversals, stops and take-profits, fixed notional sizing; rsi-mean-reversion:
        # signal exits and stops (one on its entry candle), percent-of-equity sizing
        pytest.param("sma-crossover", STOP_AND_TP, id="sma-crossover"),
        pytest.param("rsi-mean-reversion", STOP, id="rsi-mean-reversion"),
    ],
)
def test_shadow_live_and_backtest_give_the_same_signals_and_trades_past_protective_exits(
    database_url: str, kafka_bootstrap: str, sim: VenueSimHandle, name: str, protection: dict[str, Any]
) -> None:
    names = (*FUNCTIONS, "risk-guardian", "strategy-engine")
    with system(database_url, kafka_bootstrap, sim, mode="shadow", names=names) as s:
        with psycopg.connect(database_url, autocommit=True) as conn:
            rk.ready(conn, account=ACCOUNT, mode="shadow")
        spec = with_doc(example(name), account=ACCOUNT, protection=protection,
                        universe={"venue": "binanceusdm", "symbols": [BTC], "timeframe": "1m"})  # fmt: skip
        create_and_start(database_url, spec)
        candles = candle_events(database_url, sim)
        with psycopg.connect(database_url, autocommit=True) as conn:
            run = ShadowRun(s, sim, conn, {"SL", "TP"} if "take_profits" in protection else {"SL"})
            run.price(candles[0].data.open)
            for i, candle in enumerate(candles):
                run.walk(i, candle.data)
                run.decide(i, candles)
        signals = s.outbox("kairos.signal.generated")
        intents = {i["signal_id"]: i for i in s.outbox("kairos.cmd.order_intent")}
        when = [iso(c.data.open_time) for c in candles]
        live = shadow_trades(run, s, when)

    start, last = candles[0].data.open_time, candles[-1].data.open_time
    # SHADOW fees are the market's taker fee; the guardian rounds quantities down to the market's
    # step, as the backtest does in every run (here one with no limit: {}).
    fills = FillModel(fee_rate=MARKET.taker_fee, slippage_bps=Decimal(0), fill="next_open", both_touched="stop_first")
    request = BacktestRequest(strategy_id=spec.name, start=start, end=last + timedelta(minutes=1),
                              balance=Decimal(10000), fills=fills, risk_limits={})  # fmt: skip
    with psycopg.connect(database_url) as conn:
        out = runner.run(conn, request)

    # the same signals at the same candles, past every protective exit
    assert [(b["candle_open_time"], b["action"]) for b in out.signals] == [
        (x["candle_open_time"], x["action"]) for x in signals
    ]
    for x, b in zip(signals, out.signals, strict=True):
        intent = intents[x["signal_id"]]
        if intent["kind"] == "entry":  # sized alike, at the deciding candle's close
            assert Decimal(b["quantity"]) == Decimal(intent["quantity"])

    # the same trades: entry time, side and quantity, exit time and reason
    got = [(when[t.entry_bar], t.side, t.quantity, when[t.exit_bar] if t.exit_bar is not None else None, t.reason)
           for t in live]  # fmt: skip
    want = [(b["entry_time"], b["side"], Decimal(b["quantity"]),
             *((None, None) if b["reason"] == "end_of_data" else (b["exit_time"], b["reason"])))
            for b in out.trades]  # fmt: skip
    assert got == want
    reasons = [t.reason for t in live]
    assert reasons.count("stop_loss") >= 3
    assert reasons.count("take_profit") >= (2 if "take_profits" in protection else 0)
    first_protective = min(t.exit_bar for t in live if t.reason in REASON.values() and t.exit_bar is not None)
    assert sum(t.entry_bar > first_protective for t in live) >= 3  # entries after protective exits match too

    # prices: the documented differences only
    for t, b in zip(live, out.trades, strict=True):
        # 1. SHADOW takes from the synthetic book: a buy pays the ask, one tick above the price, a
        #    sell gets the bid (the price on the tick grid); the backtest fills at the open itself.
        assert t.entry_price == Decimal(b["entry_price"]) + (TICK if t.side == "long" else 0)
        if t.reason in ("signal", "reverse"):
            assert t.exit_price == Decimal(b["exit_price"]) + (TICK if t.side == "short" else 0)
        elif t.reason is not None:
            # 2. a protective exit. Both compute the level from their own entry price (the
            #    strategy's distance); SHADOW rounds it to the tick toward the market, the backtest
            #    does not. SHADOW fills at the book where the price reached the trigger (a buy one
            #    tick above), the backtest at the level; both at the open when a candle opens beyond
            #    it. So the exit prices are within two ticks.
            assert t.exit_price is not None and t.trigger is not None and t.exit_bar is not None
            level = protection["stop_loss"] if t.reason == "stop_loss" else protection["take_profits"][0]
            away = Decimal(level["distance_pct"]) / 100
            sign = (1 if t.side == "long" else -1) * (1 if t.reason == "take_profit" else -1)
            opened = candles[t.exit_bar].data.open
            assert t.trigger % TICK == 0 and abs(t.trigger - t.entry_price * (1 + sign * away)) < TICK
            assert t.exit_price - (TICK if t.side == "short" else 0) in (t.trigger, opened)
            bt_entry, bt_exit = Decimal(b["entry_price"]), Decimal(b["exit_price"])
            assert abs(bt_exit - bt_entry * (1 + sign * away)) < Decimal("0.0000001") or bt_exit == opened
            assert abs(t.exit_price - bt_exit) <= 2 * TICK
        if t.reason is not None:
            # 3. fees and PnL follow from those prices (taker fee on both sides)
            assert abs(t.fees - Decimal(b["fees"])) <= Decimal("0.000001")
            assert abs(t.pnl - Decimal(b["pnl"])) <= t.quantity * 4 * TICK

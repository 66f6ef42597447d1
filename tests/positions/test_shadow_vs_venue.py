"""SHADOW = LIVE on the same price path: plan's orders on the venue simulator's engine vs ``shadow.simulate``.

LIVE side: the position is opened on the simulator's pure engine (in process, no HTTP), the
plan's TP/SL/trailing orders are placed there as the executor would, the path is replayed
with ``set_price`` and the venue's fills are folded. SHADOW side: ``simulate`` from the same
position over the same path with the venue's taker fee. A long's exits are market sells at
the best bid (the price floored to the tick), which the model reproduces exactly with zero
slippage; a short's buys pay one tick of spread, the slippage the model must allow for.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.positions.actions import ActionKind
from kairos.positions.fold import OpenDefaults, apply_fill
from kairos.positions.model import Fill, OrderSide, Position, Protection, TrailingMode, VenueRules
from kairos.positions.plan import VenueChecks, plan
from kairos.positions.shadow import FillModel, PricePoint, simulate
from kairos.venue_sim.engine import Engine
from kairos.venue_sim.model import Fill as VenueFill
from kairos.venue_sim.model import OrderRequest, OrderType, Side
from kairos.venues.markets import Bracket, MarketSpec
from kairos_testkit.position_builders import D, at, protection

SPEC = MarketSpec(
    symbol="TESTUSDT", base="TEST", quote="USDT", tick_size=D("0.1"), step_size=D("0.01"), min_qty=D("0.01"),
    max_qty=D(1000), min_notional=D(1), initial_price=D("100.0"), level_qty=D(1000), depth_levels=3,
    brackets=(Bracket(1, 50, D(0), D(1_000_000), D("0.01"), D(0)),),
)  # fmt: skip
RULES = VenueRules(tick_size=SPEC.tick_size, step_size=SPEC.step_size, min_quantity=SPEC.min_qty)
TYPES = {"take_profit_market": OrderType.TAKE_PROFIT_MARKET, "stop_market": OrderType.STOP_MARKET,
         "trailing_stop_market": OrderType.TRAILING_STOP_MARKET}


def to_fill(f: VenueFill) -> Fill:
    """What the execution service will publish as ``exec.fill`` for a venue trade."""
    return Fill(venue_trade_id=str(f.trade_id), order_id=str(f.order_id), account="k", venue="sim",
                symbol=SPEC.symbol, side=OrderSide(f.side.value.lower()), quantity=f.qty, price=f.price,
                fee=f.commission, occurred_at=at(f.time / 1000))


def live(side: str, prot: Protection, path: list[Decimal]) -> tuple[Position, Position]:
    """(position right after the entry, position after the path) on the engine."""
    eng = Engine({SPEC.symbol: SPEC})
    eng.add_account("k", "s", D(1_000_000))
    eng.set_price(SPEC.symbol, SPEC.initial_price, None, 1000)
    eng.place_order("k", OrderRequest(symbol=SPEC.symbol, side=Side(side.upper()), type=OrderType.MARKET, qty=D(1)))
    pos = apply_fill(None, to_fill(eng.fills[0]), OpenDefaults(protection=prot)).position
    start = pos
    p = plan(pos, [], RULES, checks=VenueChecks(True, False, pos.quantity), mark=SPEC.initial_price)
    for a in p.tp + p.sl:
        assert a.kind is ActionKind.PLACE and a.side is not None and a.order_type is not None
        eng.place_algo("k", OrderRequest(
            symbol=SPEC.symbol, side=Side(a.side.value.upper()), type=TYPES[a.order_type], qty=a.quantity,
            stop_price=a.price if a.callback_rate is None else None, reduce_only=True,
            activate_price=a.price if a.callback_rate is not None else None, callback_rate=a.callback_rate))
    seen = len(eng.fills)
    for i, price in enumerate(path, start=1):
        eng.set_price(SPEC.symbol, price, None, 1000 + i * 1000)
        for f in eng.fills[seen:]:
            pos = apply_fill(pos, to_fill(f)).position
        seen = len(eng.fills)
    return start, pos


def shadow(start: Position, path: list[Decimal], slippage_bps: Decimal = D(0)) -> Position:
    points = [PricePoint(at(1 + i), p) for i, p in enumerate(path, start=1)]
    return simulate(start, points, RULES, FillModel(slippage_bps=slippage_bps, fee_rate=SPEC.taker_fee)).position


SCENARIOS = {
    "tp levels": (protection(tps=(("102", "0.5"), ("104", "0.5")), sl="97"), ["101", "102.3", "103", "104.5"]),
    "stop": (protection(tps=(("110", "1"),), sl="97"), ["99", "98", "96.5", "95"]),
    "tp then stop": (protection(tps=(("102", "0.5"), ("110", "0.5")), sl="97"), ["102.5", "99", "96.9"]),
    "native trail": (protection(tps=(), sl="90", trail=("103", "1", TrailingMode.NATIVE)),
                     ["101", "103.2", "106", "104.9", "100"]),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_long_scenarios_end_identically_on_venue_and_in_shadow(name: str) -> None:
    prot, raw = SCENARIOS[name]
    path = [D(p) for p in raw]
    start, venue_pos = live("buy", prot, path)
    shadow_pos = shadow(start, path)
    assert venue_pos.quantity < start.quantity  # something triggered
    assert (shadow_pos.quantity, shadow_pos.status) == (venue_pos.quantity, venue_pos.status)
    assert shadow_pos.realised_pnl == venue_pos.realised_pnl


def test_short_scenario_lies_between_no_slippage_and_one_tick_of_slippage() -> None:
    prot = protection(tps=(("98", "0.5"), ("96", "0.5")), sl="103")
    path = [D(p) for p in ["99", "97.7", "100", "103.4"]]
    start, venue_pos = live("sell", prot, path)
    optimistic, conservative = shadow(start, path), shadow(start, path, slippage_bps=D(10))  # 1 tick ~ 10 bps
    assert optimistic.quantity == conservative.quantity == venue_pos.quantity == 0
    assert conservative.realised_pnl <= venue_pos.realised_pnl <= optimistic.realised_pnl


walk = st.lists(st.integers(min_value=-25, max_value=25), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(walk)
def test_random_walks_end_identically_for_a_protected_long(steps: list[int]) -> None:
    path, price = [], SPEC.initial_price
    for s in steps:
        price = max(D(50), price + SPEC.tick_size * s)
        path.append(price)
    start, venue_pos = live("buy", protection(tps=(("101.5", "0.5"), ("103", "0.5")), sl="98.5"), path)
    shadow_pos = shadow(start, path)
    assert (shadow_pos.quantity, shadow_pos.realised_pnl) == (venue_pos.quantity, venue_pos.realised_pnl)

"""Property tests of the pure matching engine (no HTTP): the fill log is the truth.

Random sequences of prices and orders, on a market with a thin synthetic book so partial
fills and depth exhaustion happen often; after every sequence the account must fold
exactly from its fills, and no fill may sit outside the prices the path visited (widened
by the depth the book offers on each side).
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.venue_sim.engine import Engine
from kairos.venue_sim.model import OrderRequest, Position, Side, TimeInForce, VenueError
from kairos.venue_sim.model import OrderType as T
from kairos.venues.markets import Bracket, MarketSpec

SPEC = MarketSpec(
    symbol="TESTUSDT", base="TEST", quote="USDT", tick_size=Decimal("0.1"), step_size=Decimal("0.01"),
    min_qty=Decimal("0.01"), max_qty=Decimal("1000"), min_notional=Decimal("1"), initial_price=Decimal("100.0"),
    level_qty=Decimal("0.50"), depth_levels=3, level_step_ticks=2,
    brackets=(Bracket(1, 50, Decimal(0), Decimal("1000000"), Decimal("0.01"), Decimal(0)),),
)  # fmt: skip
BAND = SPEC.tick_size * (SPEC.spread_ticks + (SPEC.depth_levels - 1) * SPEC.level_step_ticks)
TYPES = [T.MARKET, T.LIMIT, T.STOP_MARKET, T.TAKE_PROFIT_MARKET, T.TRAILING_STOP_MARKET]

order = st.tuples(
    st.just("order"), st.sampled_from(TYPES), st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 2000), st.integers(-30, 30), st.sampled_from([False, False, False, True]),
    st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTX]),
)  # fmt: skip
KINDS = {
    "order": order,
    "price": st.tuples(st.just("price"), st.integers(-40, 40)),
    "cancel_all": st.tuples(st.just("cancel_all")),
    "funding": st.tuples(st.just("funding"), st.integers(-30, 30)),
}
# weighted so most sequences trade: 6 orders : 4 price moves : 1 cancel-all : 1 funding
action = st.sampled_from(["order"] * 6 + ["price"] * 4 + ["cancel_all", "funding"]).flatmap(KINDS.__getitem__)


def replay(actions: list[tuple]) -> tuple[Engine, list[Decimal]]:  # type: ignore[type-arg]
    eng = Engine({SPEC.symbol: SPEC})
    eng.add_account("k", "s", Decimal("20"))  # thin wallet: margin calls and liquidations happen
    price, now = SPEC.initial_price, 1
    eng.set_price(SPEC.symbol, price, None, now)
    path = [price]
    for act in actions:
        if act[0] == "price":
            price = max(Decimal("1.0"), price + SPEC.tick_size * act[1])
            now += 1000
            eng.set_price(SPEC.symbol, price, None, now)
            path.append(price)
        elif act[0] == "funding":
            eng.apply_funding(SPEC.symbol, Decimal(act[1]) / 10_000)
        elif act[0] == "cancel_all":
            eng.cancel_all("k", SPEC.symbol)
            eng.cancel_all_algos("k", SPEC.symbol)
        else:
            _, kind, side, steps, offset, reduce_only, tif = act
            level = max(SPEC.tick_size, price + SPEC.tick_size * offset)
            req = OrderRequest(
                symbol=SPEC.symbol, side=side, type=kind, qty=SPEC.step_size * steps,
                price=level if kind is T.LIMIT else None, stop_price=level, time_in_force=tif,
                reduce_only=reduce_only, callback_rate=Decimal("1"),
            )  # fmt: skip
            try:
                if kind in (T.MARKET, T.LIMIT):
                    eng.place_order("k", req)
                else:
                    eng.place_algo("k", req)
            except VenueError:
                pass
    return eng, path


@settings(max_examples=100, deadline=None)
@given(st.lists(action, min_size=20, max_size=80))
def test_position_and_wallet_fold_exactly_from_the_fill_and_funding_logs(actions: list[tuple]) -> None:  # type: ignore[type-arg]
    eng, _ = replay(actions)
    acct = eng.accounts["k"]
    folded = Position(SPEC.symbol)
    realized = Decimal(0)
    for fill in eng.fills:
        realized_here = folded.apply(fill.side, fill.qty, fill.price)
        assert realized_here == fill.realized_pnl
        realized += realized_here
    pos = acct.positions.get(SPEC.symbol, Position(SPEC.symbol))
    assert pos.amount == folded.amount == sum((f.qty * f.side.sign for f in eng.fills), Decimal(0))
    assert pos.entry_price == folded.entry_price
    funding = sum((p.amount for p in eng.funding), Decimal(0))
    assert acct.wallet == acct.initial_wallet + realized - sum((f.commission for f in eng.fills), Decimal(0)) + funding


@settings(max_examples=100, deadline=None)
@given(st.lists(action, min_size=20, max_size=80))
def test_no_fill_outside_the_price_path_range_widened_by_book_depth(actions: list[tuple]) -> None:  # type: ignore[type-arg]
    eng, path = replay(actions)
    low, high = min(path) - BAND, max(path) + BAND
    for fill in eng.fills:
        assert low <= fill.price <= high, (fill, low, high)


@settings(max_examples=100, deadline=None)
@given(st.lists(action, min_size=20, max_size=80))
def test_orders_never_fill_beyond_their_size_and_reduce_only_never_grows_exposure(
    actions: list[tuple],  # type: ignore[type-arg]
) -> None:
    eng, _ = replay(actions)
    for order in eng.orders.values():
        fills = [f for f in eng.fills if f.order_id == order.order_id]
        assert sum((f.qty for f in fills), Decimal(0)) == order.executed_qty <= order.qty
    amount = Decimal(0)
    for fill in eng.fills:
        before = amount
        amount += fill.qty * fill.side.sign
        if eng.orders[fill.order_id].reduce_only:
            assert abs(amount) < abs(before) and (amount == 0 or (amount > 0) == (before > 0))

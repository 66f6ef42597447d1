"""SHADOW's trailing rule agrees with the venue simulator's native trailing stop on any path.

The simulator (``kairos.venue_sim.algo.trail``) is what LIVE runs against; ``trailing.step``
is what SHADOW and the emulated stop use. Same activation, same extreme, same trigger price.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.positions import trailing
from kairos.positions.model import PositionSide
from kairos.venue_sim.algo import trail
from kairos.venue_sim.model import AlgoOrder, OrderType, Side, TimeInForce, WorkingType
from kairos_testkit.position_builders import D

prices = st.lists(st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100), min_size=1, max_size=60)


def venue_trail(side: PositionSide, activation: Decimal | None, rate: Decimal) -> AlgoOrder:
    return AlgoOrder(
        algo_id=1, account="k", client_algo_id="c", symbol="ETHUSDT",
        side=Side.SELL if side is PositionSide.LONG else Side.BUY,
        type=OrderType.TRAILING_STOP_MARKET, qty=D(1), price=D(0), trigger_price=D(0),
        time_in_force=TimeInForce.GTC, working_type=WorkingType.CONTRACT_PRICE, reduce_only=True,
        close_position=False, create_time=0, update_time=0, activate_price=activation, callback_rate=rate,
    )


@settings(max_examples=100, deadline=None)
@given(prices, st.sampled_from(list(PositionSide)), st.integers(min_value=1, max_value=100).map(lambda n: D(n) / 10),
       st.one_of(st.none(), st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100)))
def test_trailing_step_fires_exactly_when_the_venue_simulator_fires(
    path: list[Decimal], side: PositionSide, rate: Decimal, activation: Decimal | None
) -> None:
    algo = venue_trail(side, activation, rate)
    state = trailing.INACTIVE
    for price in path:
        venue_fired = trail(algo, price)
        state, fired = trailing.step(state, side, price, activation, rate)
        assert fired == venue_fired
        assert state.activated == algo.activated and state.extreme == algo.extreme
        if fired:
            break

"""Trailing-stop math, the same rule the venue applies to its native trailing orders.

A trail protecting a LONG activates once price reaches the activation price (at once when
there is none), then tracks the highest price since; it triggers when price falls
``callback_rate`` percent below that extreme. A SHORT mirrors it. The extreme only ever moves
in the position's favour, so the stop derived from it never loosens: that is the property
the emulated trailing stop (an SL order moved by the sync loop) and SHADOW rely on.
"""

from __future__ import annotations

from decimal import Decimal

from kairos.positions.model import ONE, PositionSide, TrailState

HUNDRED = Decimal(100)
INACTIVE = TrailState()


def advance(state: TrailState, side: PositionSide, price: Decimal, activation_price: Decimal | None) -> TrailState:
    """The state after observing ``price``: activate if reached, then move the extreme in favour only."""
    if not state.activated:
        if activation_price is not None and (
            price < activation_price if side is PositionSide.LONG else price > activation_price
        ):
            return state
        return TrailState(activated=True, extreme=price)
    assert state.extreme is not None
    better = price > state.extreme if side is PositionSide.LONG else price < state.extreme
    return TrailState(activated=True, extreme=price) if better else state


def stop_price(state: TrailState, side: PositionSide, callback_rate: Decimal) -> Decimal | None:
    """Where the trailing stop stands (unrounded), None before activation."""
    if not state.activated or state.extreme is None:
        return None
    rate = callback_rate / HUNDRED
    return state.extreme * (ONE - rate) if side is PositionSide.LONG else state.extreme * (ONE + rate)


def triggered(state: TrailState, side: PositionSide, price: Decimal, callback_rate: Decimal) -> bool:
    """True when ``price`` (already folded into ``state`` by ``advance``) reaches the stop."""
    stop = stop_price(state, side, callback_rate)
    if stop is None:
        return False
    return price <= stop if side is PositionSide.LONG else price >= stop


def step(
    state: TrailState, side: PositionSide, price: Decimal, activation_price: Decimal | None, callback_rate: Decimal
) -> tuple[TrailState, bool]:
    """Advance and test in one go, in the venue's order: extreme first, then the trigger."""
    new = advance(state, side, price, activation_price)
    return new, triggered(new, side, price, callback_rate)


def tighter(side: PositionSide, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """The stop nearer the market (higher for a LONG, lower for a SHORT): the one that loses less."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if side is PositionSide.LONG else min(a, b)

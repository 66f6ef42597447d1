"""The synthetic order book around the current price, and walking it with a taker order.

Neither SHADOW nor the simulator sees a real order book, so depth is synthesised from the
last price: best bid at the price floored to the tick, best ask ``spread_ticks`` above,
then ``depth_levels`` levels of ``level_qty`` per side, ``level_step_ticks`` apart. A
caller that remembers the quantity taken within one price tick (the simulator does) passes
it as ``consumed`` so a second order in the same tick sees a thinner book: that is how
partial fills arise when size exceeds depth. Pure functions: SHADOW's fills and the
simulator's agree on slippage because both walk this book.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from kairos.venues.markets import ZERO, MarketSpec


class Side(StrEnum):
    """The side of an order (Binance's spelling, which the simulator serves as is)."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


def best_bid_ask(spec: MarketSpec, last: Decimal) -> tuple[Decimal, Decimal]:
    bid = spec.floor_price(last)
    return bid, bid + spec.tick_size * spec.spread_ticks


def levels(spec: MarketSpec, last: Decimal, taker_side: Side) -> list[tuple[Decimal, Decimal]]:
    """Levels a taker on ``taker_side`` consumes, best first: asks for a buy, bids for a sell."""
    bid, ask = best_bid_ask(spec, last)
    step = spec.tick_size * spec.level_step_ticks
    out = []
    for i in range(spec.depth_levels):
        price = ask + step * i if taker_side is Side.BUY else bid - step * i
        if price > 0:
            out.append((price, spec.level_qty))
    return out


def depth_capacity(spec: MarketSpec) -> Decimal:
    return spec.level_qty * spec.depth_levels


def walk(
    spec: MarketSpec,
    last: Decimal,
    side: Side,
    qty: Decimal,
    limit: Decimal | None,
    consumed: Decimal,
) -> list[tuple[Decimal, Decimal]]:
    """Fills ``(price, qty)`` for a taker of ``qty``, not beyond ``limit``, after ``consumed``.

    Pure: the caller adds the total returned quantity to its per-tick ``consumed`` count.
    """
    fills: list[tuple[Decimal, Decimal]] = []
    skip = consumed
    want = qty
    for price, level_qty in levels(spec, last, side):
        if want <= 0:
            break
        if limit is not None and (price > limit if side is Side.BUY else price < limit):
            break
        avail = level_qty
        if skip > 0:
            used = min(skip, avail)
            skip -= used
            avail -= used
        if avail <= 0:
            continue
        take = min(avail, want)
        fills.append((price, take))
        want -= take
    return fills


def fillable(spec: MarketSpec, last: Decimal, side: Side, limit: Decimal | None, consumed: Decimal) -> Decimal:
    big = depth_capacity(spec) * 2
    return sum((q for _, q in walk(spec, last, side, big, limit, consumed)), ZERO)

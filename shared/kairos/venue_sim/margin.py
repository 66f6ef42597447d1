"""Cross-margin arithmetic (pure, Decimal): unrealised PnL, margins, liquidation price.

Binance's one-way cross-margin formulas, simplified to what the simulator needs: every
position shares the account's wallet; an order needs initial margin only for the part
that increases exposure.
"""

from __future__ import annotations

from decimal import Decimal

from kairos.venue_sim.model import ZERO, Account, Order, Position, Side
from kairos.venues.markets import MarketSpec

Q8 = Decimal("0.00000001")


def unrealized(pos: Position, mark: Decimal) -> Decimal:
    return pos.amount * (mark - pos.entry_price) if pos.amount else ZERO


def position_initial_margin(pos: Position, mark: Decimal) -> Decimal:
    return abs(pos.amount) * mark / pos.leverage if pos.amount else ZERO


def maint_margin(pos: Position, spec: MarketSpec, mark: Decimal) -> Decimal:
    if not pos.amount:
        return ZERO
    notional = abs(pos.amount) * mark
    b = spec.bracket_for(notional)
    return notional * b.maint_margin_ratio - b.cum


def increasing_qty(pos: Position, side: Side, qty: Decimal) -> Decimal:
    """The part of an order of ``qty`` on ``side`` that grows exposure rather than reducing it."""
    if pos.amount == 0 or (pos.amount > 0) == (side is Side.BUY):
        return qty
    return max(ZERO, qty - abs(pos.amount))


def order_initial_margin(order: Order, pos: Position, ref_price: Decimal) -> Decimal:
    if order.reduce_only or order.close_position:
        return ZERO
    price = order.price if order.price else ref_price
    return increasing_qty(pos, order.side, order.remaining) * price / pos.leverage


def available_balance(
    account: Account,
    open_orders: list[Order],
    marks: dict[str, Decimal],
) -> Decimal:
    """Wallet + unrealised PnL - position margin - open-order margin (never below zero)."""
    total = account.wallet
    for sym, pos in account.positions.items():
        mark = marks.get(sym, pos.entry_price)
        total += unrealized(pos, mark) - position_initial_margin(pos, mark)
    for order in open_orders:
        pos = account.positions.get(order.symbol) or Position(order.symbol)
        total -= order_initial_margin(order, pos, marks.get(order.symbol, order.price))
    return max(ZERO, total)


def liquidation_price(
    account: Account,
    pos: Position,
    spec: MarketSpec,
    specs: dict[str, MarketSpec],
    marks: dict[str, Decimal],
) -> Decimal:
    """Price at which ``pos`` would be liquidated if every other position stayed at its mark.

    LP = (WB' + cum - s*Q*EP) / (Q*MMR - s*Q), where WB' is the wallet plus the other
    positions' unrealised PnL minus their maintenance margin (Binance's cross formula).
    """
    if not pos.amount:
        return ZERO
    wb = account.wallet
    for sym, other in account.positions.items():
        if sym == pos.symbol or not other.amount:
            continue
        mark = marks.get(sym, other.entry_price)
        wb += unrealized(other, mark) - maint_margin(other, specs[sym], mark)
    q = abs(pos.amount)
    s = Decimal(1) if pos.amount > 0 else Decimal(-1)
    bracket = spec.bracket_for(q * marks.get(pos.symbol, pos.entry_price))
    denominator = q * bracket.maint_margin_ratio - s * q
    if denominator == 0:
        return ZERO
    lp = (wb + bracket.cum - s * q * pos.entry_price) / denominator
    return max(ZERO, spec.round_price(lp))


def commission(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    return (price * qty * rate).quantize(Q8)

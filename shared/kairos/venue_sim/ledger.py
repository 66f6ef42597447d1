"""Booking fills and funding into positions and wallets: the only place money moves.

Every change of a wallet or position happens here and is appended to the fill or
funding log in the same step, which is what lets the property tests prove that
position = sum of signed fills and wallet = initial + realised PnL - fees + funding.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from kairos.venue_sim import margin
from kairos.venue_sim.model import (
    ZERO,
    Fill,
    FundingPayment,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)

if TYPE_CHECKING:
    from kairos.venue_sim.engine import Engine


def book_fill(eng: Engine, order: Order, price: Decimal, qty: Decimal, *, maker: bool) -> Decimal:
    """Fill ``qty`` of ``order`` at ``price``; reduce-only fills are capped at the position
    (and the order expires if there is nothing left to reduce). Returns the quantity filled."""
    acct, spec = eng.accounts[order.account], eng.specs[order.symbol]
    pos = acct.position(order.symbol, spec.default_leverage)
    if order.reduce_only:
        if pos.amount == 0 or (pos.amount > 0) == (order.side is Side.BUY):
            eng._finish(order, OrderStatus.EXPIRED)
            return ZERO
        qty = min(qty, abs(pos.amount))
    realized = pos.apply(order.side, qty, price)
    fee = margin.commission(price, qty, spec.maker_fee if maker else spec.taker_fee)
    acct.wallet += realized - fee
    acct.update_time = pos.update_time = eng.now
    order.executed_qty += qty
    order.cum_quote += price * qty
    order.update_time = eng.now
    fill = Fill(eng._next_trade_id, acct.api_key, order.symbol, order.order_id, order.side, price, qty, fee,
                realized, maker, eng.now)  # fmt: skip
    eng._next_trade_id += 1
    eng.fills.append(fill)
    eng._log("fill", account=acct.api_key, symbol=order.symbol, order_id=order.order_id, trade_id=fill.trade_id,
             side=order.side.value, price=price, qty=qty, commission=fee, realized_pnl=realized,
             maker=maker)  # fmt: skip
    eng._log("position", account=acct.api_key, symbol=order.symbol, amount=pos.amount,
             entry_price=pos.entry_price, wallet=acct.wallet)  # fmt: skip
    if order.remaining == 0:
        eng._finish(order, OrderStatus.FILLED)
    else:
        order.status = OrderStatus.PARTIALLY_FILLED
        eng._log_order(order)
    if pos.amount == 0:
        eng._on_flat(acct.api_key, order.symbol)
    return qty


def settle_funding(eng: Engine, symbol: str, rate: Decimal) -> list[FundingPayment]:
    """Every open position in ``symbol`` pays (or receives) ``amount x mark x rate``."""
    mark, paid = eng.mark[symbol], []
    for acct in eng.accounts.values():
        pos = acct.positions.get(symbol)
        if pos is None or not pos.amount:
            continue
        amount = margin.commission(-pos.amount * mark, Decimal(1), rate)
        acct.wallet += amount
        eng._next_trade_id += 1
        payment = FundingPayment(eng._next_trade_id, acct.api_key, symbol, rate, mark, amount, eng.now)
        eng.funding.append(payment)
        paid.append(payment)
        eng._log("funding", account=acct.api_key, symbol=symbol, rate=rate, amount=amount, wallet=acct.wallet)
    return paid


def liquidate_crossed(eng: Engine, symbol: str) -> list[Order]:
    """Close every position in ``symbol`` whose mark price reached its liquidation price.

    As on Binance, the account's open orders in that symbol are cancelled first, then the
    liquidation engine closes the whole position with a market order whose client order
    id starts ``autoclose-``. It fills at the liquidation price when this tick's mark move
    crossed it (what is left is then the maintenance margin minus the taker fee; no
    clearance fee), else at the previous mark: a position already beyond its liquidation
    price (a gap, or a flip by a fill) never fills outside the prices the market visited.
    """
    from kairos.venue_sim import algo as algos

    spec, mark, done = eng.specs[symbol], eng.mark[symbol], []
    for acct in list(eng.accounts.values()):
        pos = acct.positions.get(symbol)
        if pos is None or not pos.amount:
            continue
        lp = margin.liquidation_price(acct, pos, spec, eng.specs, eng.mark)
        if lp <= 0 or (mark > lp if pos.amount > 0 else mark < lp):
            continue
        eng.cancel_all(acct.api_key, symbol)
        algos.cancel_all_algos(eng, acct.api_key, symbol)
        side = Side.SELL if pos.amount > 0 else Side.BUY
        qty = abs(pos.amount)
        req = OrderRequest(symbol=symbol, side=side, type=OrderType.MARKET, qty=qty, reduce_only=True,
                           client_id=f"autoclose-{eng.now}-{acct.api_key}"[:36])  # fmt: skip
        order = eng._new_order(acct, spec, req, qty, ZERO)
        eng._rested.add(order.order_id)
        eng._log("liquidation", account=acct.api_key, symbol=symbol, amount=pos.amount, liquidation_price=lp,
                 mark=mark, order_id=order.order_id)  # fmt: skip
        prev = eng.prev_mark[symbol]
        price = min(lp, prev) if pos.amount > 0 else max(lp, prev)
        book_fill(eng, order, price, qty, maker=False)
        done.append(order)
    return done

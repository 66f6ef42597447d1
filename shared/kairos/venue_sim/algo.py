"""Conditional orders (Binance's algo service): stop, take-profit, trailing stop.

Since Binance moved conditional futures orders to ``/fapi/v1/algoOrder``, ccxt sends
them there. An algo order waits for its trigger (last or mark price, as requested);
when it fires it places a real order (market, or limit for STOP/TAKE_PROFIT) linked by
``actualOrderId``, and becomes FINISHED once that order is done. Mixed into ``Engine``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from kairos.venue_sim.model import (
    ZERO,
    AlgoOrder,
    AlgoStatus,
    Order,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    VenueError,
    WorkingType,
)
from kairos.venue_sim.validate import check_price, check_qty, min_notional_error

if TYPE_CHECKING:
    from kairos.venue_sim.engine import Engine

HUNDRED = Decimal(100)
STOP_TYPES = (OrderType.STOP, OrderType.STOP_MARKET)
TP_TYPES = (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET)


def would_trigger(algo: AlgoOrder, price: Decimal) -> bool:
    """Stops fire when price moves against the order's side, take-profits when it moves for it."""
    if algo.type in STOP_TYPES:
        return price >= algo.trigger_price if algo.side is Side.BUY else price <= algo.trigger_price
    if algo.type in TP_TYPES:
        return price <= algo.trigger_price if algo.side is Side.BUY else price >= algo.trigger_price
    return False


def trail(algo: AlgoOrder, price: Decimal) -> bool:
    """Advance a trailing stop by one price; True when it fires.

    A SELL trail (protecting a long) activates at or above ``activate_price``, tracks the
    highest price since, and fires once price falls ``callback_rate`` % below it; BUY mirrors.
    """
    assert algo.callback_rate is not None
    sell = algo.side is Side.SELL
    if not algo.activated:
        act = algo.activate_price
        if act is not None and (price < act if sell else price > act):
            return False
        algo.activated = True
        algo.extreme = price
    assert algo.extreme is not None
    algo.extreme = max(algo.extreme, price) if sell else min(algo.extreme, price)
    rate = algo.callback_rate / HUNDRED
    return price <= algo.extreme * (1 - rate) if sell else price >= algo.extreme * (1 + rate)


def place_algo(eng: Engine, api_key: str, req: OrderRequest) -> AlgoOrder:
    """Accept a conditional order; raises VenueError(-2021) if it would trigger at once."""
    acct, spec = eng.account(api_key), eng.spec(req.symbol)
    if req.type not in (*STOP_TYPES, *TP_TYPES, OrderType.TRAILING_STOP_MARKET):
        raise VenueError(-1116, "Invalid orderType.")
    if req.close_position and req.type not in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
        raise VenueError(-4136, "Target strategy invalid for orderType CLOSE_POSITION.")
    qty = ZERO if req.close_position else check_qty(spec, req.qty)
    price = ZERO
    if req.type in (OrderType.STOP, OrderType.TAKE_PROFIT):
        price = check_price(spec, req.price, "price")
    last = eng.last[spec.symbol]
    trigger = ZERO
    if req.type is OrderType.TRAILING_STOP_MARKET:
        rate = req.callback_rate
        if rate is None or not Decimal("0.1") <= rate <= Decimal(10):
            raise VenueError(-1102, "Mandatory parameter 'callbackRate' was not sent or is outside [0.1, 10].")
        if req.activate_price is not None:
            check_price(spec, req.activate_price, "activatePrice")
            sell = req.side is Side.SELL
            if (req.activate_price <= last) if sell else (req.activate_price >= last):
                raise VenueError(-2021, "Order would immediately trigger.")
    else:
        trigger = check_price(spec, req.stop_price, "triggerPrice")
    _check_client_id(eng, api_key, req.client_id)
    pos = acct.position(spec.symbol, spec.default_leverage)
    if req.reduce_only and (pos.amount == 0 or (pos.amount > 0) == (req.side is Side.BUY)):
        raise VenueError(-2022, "ReduceOnly Order is rejected.")
    ref = price or trigger or last
    if not (req.reduce_only or req.close_position) and qty * ref < spec.min_notional:
        raise min_notional_error(spec)
    algo_id = eng._next_algo_id
    eng._next_algo_id += 1
    algo = AlgoOrder(
        algo_id=algo_id,
        account=api_key,
        client_algo_id=req.client_id or f"simalgo-{algo_id}",
        symbol=spec.symbol,
        side=req.side,
        type=req.type,
        qty=qty,
        price=price,
        trigger_price=trigger,
        time_in_force=req.time_in_force,
        working_type=req.working_type,
        reduce_only=req.reduce_only,
        close_position=req.close_position,
        create_time=eng.now,
        update_time=eng.now,
        activate_price=req.activate_price,
        callback_rate=req.callback_rate,
    )
    if algo.type is not OrderType.TRAILING_STOP_MARKET and would_trigger(algo, trigger_price(eng, algo)):
        raise VenueError(-2021, "Order would immediately trigger.")
    eng.algos[algo_id] = algo
    eng.open_algos[algo_id] = algo
    log_algo(eng, algo)
    return algo


def trigger_price(eng: Engine, algo: AlgoOrder) -> Decimal:
    return eng.mark[algo.symbol] if algo.working_type is WorkingType.MARK_PRICE else eng.last[algo.symbol]


def _check_client_id(eng: Engine, api_key: str, client_id: str | None) -> None:
    if not client_id:
        return
    pool = eng.algos if eng.unique_client_ids == "all" else eng.open_algos
    for a in pool.values():
        if a.account == api_key and a.client_algo_id == client_id:
            raise VenueError(-4116, "ClientOrderId is duplicated.")


def run_triggers(eng: Engine, symbol: str) -> None:
    for algo in sorted(eng.open_algos.values(), key=lambda a: a.algo_id):
        if algo.symbol != symbol or algo.status is not AlgoStatus.NEW:
            continue
        price = trigger_price(eng, algo)
        fired = trail(algo, price) if algo.type is OrderType.TRAILING_STOP_MARKET else would_trigger(algo, price)
        if fired:
            _fire(eng, algo)


def _fire(eng: Engine, algo: AlgoOrder) -> None:
    acct, spec = eng.accounts[algo.account], eng.specs[algo.symbol]
    pos = acct.position(algo.symbol, spec.default_leverage)
    algo.trigger_time = algo.update_time = eng.now
    reducing = pos.amount != 0 and (pos.amount > 0) != (algo.side is Side.BUY)
    if (algo.close_position or algo.reduce_only) and not reducing:
        _set(eng, algo, AlgoStatus.EXPIRED)
        return
    qty = abs(pos.amount) if algo.close_position else algo.qty
    limit = algo.type in (OrderType.STOP, OrderType.TAKE_PROFIT)
    req = OrderRequest(
        symbol=algo.symbol,
        side=algo.side,
        type=OrderType.LIMIT if limit else OrderType.MARKET,
        qty=qty,
        price=algo.price if limit else None,
        time_in_force=algo.time_in_force if limit else TimeInForce.GTC,
        reduce_only=algo.reduce_only or algo.close_position,
        close_position=algo.close_position,
        client_id=algo.client_algo_id,
    )
    order = eng._new_order(acct, spec, req, qty, algo.price if limit else ZERO)
    order.orig_type = algo.type
    order.stop_price = algo.trigger_price
    order.algo_id = algo.algo_id
    algo.actual_order_id = order.order_id
    _set(eng, algo, AlgoStatus.TRIGGERED)
    eng._first_match(order)


def child_done(eng: Engine, order: Order) -> None:
    algo = eng.algos.get(order.algo_id or -1)
    if algo is not None and algo.status is AlgoStatus.TRIGGERED and not order.is_open:
        _set(eng, algo, AlgoStatus.FINISHED)


def expire_on_flat(eng: Engine, api_key: str, symbol: str) -> None:
    for algo in list(eng.open_algos.values()):
        if (
            algo.account == api_key
            and algo.symbol == symbol
            and algo.status is AlgoStatus.NEW
            and (algo.close_position or algo.reduce_only)
        ):
            _set(eng, algo, AlgoStatus.EXPIRED)


def _set(eng: Engine, algo: AlgoOrder, status: AlgoStatus) -> None:
    algo.status = status
    algo.update_time = eng.now
    if status is not AlgoStatus.NEW:
        eng.open_algos.pop(algo.algo_id, None)
    log_algo(eng, algo)


def log_algo(eng: Engine, algo: AlgoOrder) -> None:
    eng._log(
        "algo",
        account=algo.account,
        symbol=algo.symbol,
        algo_id=algo.algo_id,
        client_algo_id=algo.client_algo_id,
        side=algo.side.value,
        type=algo.type.value,
        status=algo.status.value,
        qty=algo.qty,
        trigger_price=algo.trigger_price,
        actual_order_id=algo.actual_order_id,
    )


def find_algo(
    eng: Engine,
    api_key: str,
    symbol: str | None,
    algo_id: int | None,
    client_id: str | None,
    *,
    code: int = -2013,
) -> AlgoOrder:
    eng.account(api_key)
    msg = "Order does not exist." if code == -2013 else "Unknown order sent."
    if algo_id is None and not client_id:
        raise VenueError(-1102, "Param 'algoId' or 'clientAlgoId' must be sent, but both were empty/null!")
    found = [
        a
        for a in eng.algos.values()
        if a.account == api_key
        and (symbol is None or a.symbol == symbol)
        and (a.algo_id == algo_id if algo_id is not None else a.client_algo_id == client_id)
    ]
    if not found:
        raise VenueError(code, msg)
    return found[-1]


def cancel_algo(eng: Engine, api_key: str, symbol: str | None, algo_id: int | None, client_id: str | None) -> AlgoOrder:
    algo = find_algo(eng, api_key, symbol, algo_id, client_id, code=-2011)
    if algo.status is not AlgoStatus.NEW:
        raise VenueError(-2011, "Unknown order sent.")
    _set(eng, algo, AlgoStatus.CANCELED)
    return algo


def cancel_all_algos(eng: Engine, api_key: str, symbol: str) -> list[AlgoOrder]:
    eng.spec(symbol)
    out = [a for a in eng.open_algos.values() if a.account == api_key and a.symbol == symbol]
    for a in out:
        _set(eng, a, AlgoStatus.CANCELED)
    return out

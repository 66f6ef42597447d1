"""Engine records -> Binance USD-M JSON shapes (pure functions, strings for every number).

Field names and types follow what ccxt's ``binance.py`` parses (parse_order,
parse_position_risk, parse_balance_custom, parse_trade, parse_ticker, parse_market).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kairos.venue_sim import margin
from kairos.venue_sim.engine import Engine
from kairos.venue_sim.model import ZERO, AlgoOrder, Fill, Order, OrderType, Position
from kairos.venues import book
from kairos.venues.markets import MarketSpec

ORDER_TYPES = [t.value for t in OrderType]
JSON = dict[str, Any]


def dec(value: Decimal, places: int = 8) -> str:
    q = Decimal(1).scaleb(-places)
    return f"{value.quantize(q).normalize():f}" if value else "0"


def order_json(o: Order, spec: MarketSpec) -> JSON:
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status.value,
        "clientOrderId": o.client_order_id,
        "price": spec.fmt_price(o.price),
        "avgPrice": dec(o.avg_price, 8),
        "origQty": spec.fmt_qty(o.qty),
        "executedQty": spec.fmt_qty(o.executed_qty),
        "cumQty": spec.fmt_qty(o.executed_qty),
        "cumQuote": dec(o.cum_quote, 8),
        "timeInForce": o.time_in_force.value,
        "type": o.type.value,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side.value,
        "positionSide": "BOTH",
        "stopPrice": spec.fmt_price(o.stop_price),
        "workingType": o.working_type.value,
        "priceProtect": False,
        "origType": o.orig_type.value,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
        "time": o.time,
        "updateTime": o.update_time,
    }


def algo_json(a: AlgoOrder, spec: MarketSpec, engine: Engine) -> JSON:
    out: JSON = {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.type.value,
        "symbol": a.symbol,
        "side": a.side.value,
        "positionSide": "BOTH",
        "timeInForce": a.time_in_force.value,
        "quantity": spec.fmt_qty(a.qty),
        "algoStatus": a.status.value,
        "triggerPrice": spec.fmt_price(a.trigger_price),
        "price": spec.fmt_price(a.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": "NONE",
        "workingType": a.working_type.value,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": False,
        "reduceOnly": a.reduce_only,
        "createTime": a.create_time,
        "updateTime": a.update_time,
        "triggerTime": a.trigger_time,
        "goodTillDate": 0,
    }
    if a.type is OrderType.TRAILING_STOP_MARKET:
        out["activatePrice"] = spec.fmt_price(a.activate_price) if a.activate_price is not None else None
        out["callbackRate"] = dec(a.callback_rate or ZERO, 2)
    if a.actual_order_id is not None:
        child = engine.orders[a.actual_order_id]
        out["actualOrderId"] = str(child.order_id)
        out["actualPrice"] = dec(child.avg_price, 8)
        out["executedQty"] = spec.fmt_qty(child.executed_qty)
        out["avgPrice"] = dec(child.avg_price, 8)
    return out


def trade_json(f: Fill, spec: MarketSpec) -> JSON:
    return {
        "buyer": f.side.value == "BUY",
        "commission": dec(f.commission, 8),
        "commissionAsset": spec.quote,
        "id": f.trade_id,
        "maker": f.maker,
        "orderId": f.order_id,
        "price": spec.fmt_price(f.price),
        "qty": spec.fmt_qty(f.qty),
        "quoteQty": dec(f.quote_qty, 8),
        "realizedPnl": dec(f.realized_pnl, 8),
        "side": f.side.value,
        "positionSide": "BOTH",
        "symbol": f.symbol,
        "time": f.time,
    }


def position_json(engine: Engine, api_key: str, pos: Position, *, v2: bool) -> JSON:
    acct, spec = engine.accounts[api_key], engine.specs[pos.symbol]
    mark = engine.mark[pos.symbol]
    notional = pos.amount * mark
    open_im = sum((margin.order_initial_margin(o, pos, mark) for o in engine.open_orders(api_key, pos.symbol)), ZERO)
    pos_im = margin.position_initial_margin(pos, mark)
    liq = margin.liquidation_price(acct, pos, spec, engine.specs, engine.mark)
    out: JSON = {
        "symbol": pos.symbol,
        "positionSide": "BOTH",
        "positionAmt": spec.fmt_qty(pos.amount),
        "entryPrice": dec(pos.entry_price, 8),
        "breakEvenPrice": dec(
            pos.entry_price * (1 + spec.taker_fee * pos.amount.copy_sign(Decimal(1))) if pos.amount else ZERO,
            8,
        ),
        "markPrice": dec(mark, 8),
        "unRealizedProfit": dec(margin.unrealized(pos, mark), 8),
        "liquidationPrice": dec(liq, 8),
        "isolatedMargin": "0",
        "notional": dec(notional, 8),
        "marginAsset": spec.quote,
        "isolatedWallet": "0",
        "initialMargin": dec(pos_im + open_im, 8),
        "maintMargin": dec(margin.maint_margin(pos, spec, mark), 8),
        "positionInitialMargin": dec(pos_im, 8),
        "openOrderInitialMargin": dec(open_im, 8),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": pos.update_time,
    }
    if v2:
        caps = [b.notional_cap for b in spec.brackets if b.max_leverage >= pos.leverage]
        out.update(
            leverage=str(pos.leverage),
            marginType="cross",
            isAutoAddMargin="false",
            maxNotionalValue=dec(max(caps) if caps else ZERO, 0),
        )
    return out


def account_json(engine: Engine, api_key: str) -> JSON:
    acct = engine.accounts[api_key]
    upnl = sum((margin.unrealized(p, engine.mark[s]) for s, p in acct.positions.items()), ZERO)
    pos_im = sum((margin.position_initial_margin(p, engine.mark[s]) for s, p in acct.positions.items()), ZERO)
    maint = sum((margin.maint_margin(p, engine.specs[s], engine.mark[s]) for s, p in acct.positions.items()), ZERO)
    avail = engine.available(api_key)
    order_im = sum(
        (
            margin.order_initial_margin(o, acct.position(o.symbol, engine.specs[o.symbol].default_leverage),
                                        engine.mark[o.symbol])
            for o in engine.open_orders(api_key)
        ),
        ZERO,
    )  # fmt: skip
    m = {
        "walletBalance": dec(acct.wallet),
        "unrealizedProfit": dec(upnl),
        "marginBalance": dec(acct.wallet + upnl),
        "maintMargin": dec(maint),
        "initialMargin": dec(pos_im + order_im),
        "positionInitialMargin": dec(pos_im),
        "openOrderInitialMargin": dec(order_im),
        "crossWalletBalance": dec(acct.wallet),
        "crossUnPnl": dec(upnl),
        "availableBalance": dec(avail),
        "maxWithdrawAmount": dec(min(avail, acct.wallet)),
    }
    return {
        "totalInitialMargin": m["initialMargin"],
        "totalMaintMargin": m["maintMargin"],
        "totalWalletBalance": m["walletBalance"],
        "totalUnrealizedProfit": m["unrealizedProfit"],
        "totalMarginBalance": m["marginBalance"],
        "totalPositionInitialMargin": m["positionInitialMargin"],
        "totalOpenOrderInitialMargin": m["openOrderInitialMargin"],
        "totalCrossWalletBalance": m["crossWalletBalance"],
        "totalCrossUnPnl": m["crossUnPnl"],
        "availableBalance": m["availableBalance"],
        "maxWithdrawAmount": m["maxWithdrawAmount"],
        "canTrade": True,
        "multiAssetsMargin": False,
        "updateTime": 0,
        "assets": [{"asset": "USDT", **m, "marginAvailable": True, "updateTime": acct.update_time}],
        "positions": [
            {
                "symbol": s,
                "positionSide": "BOTH",
                "positionAmt": engine.specs[s].fmt_qty(p.amount),
                "unrealizedProfit": dec(margin.unrealized(p, engine.mark[s])),
                "isolatedMargin": "0",
                "notional": dec(p.amount * engine.mark[s]),
                "isolatedWallet": "0",
                "initialMargin": dec(margin.position_initial_margin(p, engine.mark[s])),
                "maintMargin": dec(margin.maint_margin(p, engine.specs[s], engine.mark[s])),
                "leverage": str(p.leverage),
                "updateTime": p.update_time,
            }
            for s, p in acct.positions.items()
            if p.amount
        ],
    }


def symbol_json(spec: MarketSpec, onboard_ms: int) -> JSON:
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": onboard_ms,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base,
        "quoteAsset": spec.quote,
        "marginAsset": spec.quote,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.qty_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": spec.fmt_price(spec.tick_size),
                "maxPrice": "10000000",
                "tickSize": spec.fmt_price(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": spec.fmt_qty(spec.min_qty),
                "maxQty": spec.fmt_qty(spec.max_qty),
                "stepSize": spec.fmt_qty(spec.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": spec.fmt_qty(spec.min_qty),
                "maxQty": spec.fmt_qty(spec.max_qty),
                "stepSize": spec.fmt_qty(spec.step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": dec(spec.min_notional, 2)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def depth_json(spec: MarketSpec, last: Decimal, limit: int, now: int, update_id: int) -> JSON:
    from kairos.venue_sim.model import Side

    n = min(limit, spec.depth_levels)
    asks = book.levels(spec, last, Side.BUY)[:n]
    bids = book.levels(spec, last, Side.SELL)[:n]
    return {
        "lastUpdateId": update_id,
        "E": now,
        "T": now,
        "bids": [[spec.fmt_price(p), spec.fmt_qty(q)] for p, q in bids],
        "asks": [[spec.fmt_price(p), spec.fmt_qty(q)] for p, q in asks],
    }

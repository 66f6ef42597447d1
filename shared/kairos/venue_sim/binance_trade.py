"""Signed Binance USD-M routes: account, positions, leverage, orders, algo orders, trades."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from kairos.venue_sim import binance_format as fmt
from kairos.venue_sim.binance_api import FILL_DELAY_MS, Params, p_bool, p_dec, p_int, p_str
from kairos.venue_sim.model import (
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    VenueError,
    WorkingType,
)

if TYPE_CHECKING:
    from kairos.venue_sim.binance_api import BinanceApi, Handler


def _enum(cls: Any, params: Params, name: str, code: int, msg: str, default: Any = None) -> Any:
    raw = params.get(name)
    if not raw:
        if default is None:
            raise VenueError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return default
    try:
        return cls(raw)
    except ValueError:
        raise VenueError(code, msg) from None


def parse_order(params: Params, req: web.Request, *, algo: bool) -> OrderRequest:
    """Turn Binance's new-order parameters into an ``OrderRequest`` (raises VenueError)."""
    if params.get("positionSide", "BOTH") != "BOTH":
        raise VenueError(-4061, "Order's position side does not match user's setting.")
    kind = params.get("orderType") if algo and params.get("orderType") else params.get("type")
    return OrderRequest(
        symbol=p_str(params, "symbol", True) or "",
        side=_enum(Side, params, "side", -1117, "Invalid side."),
        type=_enum(OrderType, {"type": kind or ""}, "type", -1116, "Invalid orderType."),
        qty=p_dec(params, "quantity"),
        price=p_dec(params, "price"),
        stop_price=p_dec(params, "triggerPrice", "stopPrice"),
        time_in_force=_enum(TimeInForce, params, "timeInForce", -1115, "Invalid timeInForce.", TimeInForce.GTC),
        reduce_only=p_bool(params, "reduceOnly"),
        close_position=p_bool(params, "closePosition"),
        client_id=params.get("clientAlgoId" if algo else "newClientOrderId") or None,
        working_type=_enum(
            WorkingType, params, "workingType", -1100, "Invalid workingType.", WorkingType.CONTRACT_PRICE
        ),
        activate_price=p_dec(params, "activatePrice", "activationPrice"),
        callback_rate=p_dec(params, "callbackRate"),
        fill_delay_ms=req.get(FILL_DELAY_MS, 0),
    )


def private_routes(api: BinanceApi) -> list[tuple[str, str, Handler]]:
    eng = api.engine

    def key(k: str | None) -> str:
        assert k is not None  # signed routes always carry the verified key
        return k

    def symbol(p: Params) -> str:
        s = p_str(p, "symbol", True) or ""
        eng.spec(s)
        return s

    def account(p: Params, k: str | None, r: web.Request) -> Any:
        return fmt.account_json(eng, key(k))

    def balance(p: Params, k: str | None, r: web.Request) -> Any:
        a = fmt.account_json(eng, key(k))["assets"][0]
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": a["walletBalance"],
                 "crossWalletBalance": a["crossWalletBalance"], "crossUnPnl": a["crossUnPnl"],
                 "availableBalance": a["availableBalance"], "maxWithdrawAmount": a["maxWithdrawAmount"],
                 "marginAvailable": True, "updateTime": a["updateTime"]}]  # fmt: skip

    def position_risk(v2: bool) -> Handler:
        def handle(p: Params, k: str | None, r: web.Request) -> Any:
            acct = eng.account(key(k))
            wanted = [symbol(p)] if p.get("symbol") else list(eng.specs)
            out = []
            for s in wanted:
                pos = acct.position(s, eng.specs[s].default_leverage)
                if v2 or pos.amount or eng.open_orders(key(k), s):
                    out.append(fmt.position_json(eng, key(k), pos, v2=v2))
            return out

        return handle

    def leverage_bracket(p: Params, k: str | None, r: web.Request) -> Any:
        wanted = [symbol(p)] if p.get("symbol") else list(eng.specs)
        return [
            {"symbol": s, "brackets": [
                {"bracket": b.bracket, "initialLeverage": b.max_leverage, "notionalCap": int(b.notional_cap),
                 "notionalFloor": int(b.notional_floor), "maintMarginRatio": fmt.dec(b.maint_margin_ratio),
                 "cum": fmt.dec(b.cum)} for b in eng.specs[s].brackets]}
            for s in wanted
        ]  # fmt: skip

    def set_leverage(p: Params, k: str | None, r: web.Request) -> Any:
        lev = p_int(p, "leverage")
        if lev is None:
            raise VenueError(-1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed.")
        s = symbol(p)
        lev, cap = eng.set_leverage(key(k), s, lev)
        return {"leverage": lev, "maxNotionalValue": fmt.dec(cap, 0), "symbol": s}

    def dual_get(p: Params, k: str | None, r: web.Request) -> Any:
        return {"dualSidePosition": False}

    def dual_set(p: Params, k: str | None, r: web.Request) -> Any:
        if p_bool(p, "dualSidePosition"):
            raise VenueError(-1020, "This operation is not supported: the simulator runs one-way mode only.")
        raise VenueError(-4059, "No need to change position side.")

    def margin_type(p: Params, k: str | None, r: web.Request) -> Any:
        symbol(p)
        if p.get("marginType", "").upper() in ("CROSSED", "CROSS"):
            raise VenueError(-4046, "No need to change margin type.")
        raise VenueError(-1020, "This operation is not supported: the simulator runs cross margin only.")

    def commission_rate(p: Params, k: str | None, r: web.Request) -> Any:
        spec = eng.spec(symbol(p))
        return {"symbol": spec.symbol, "makerCommissionRate": fmt.dec(spec.maker_fee),
                "takerCommissionRate": fmt.dec(spec.taker_fee)}  # fmt: skip

    def order_json(o: Any) -> dict[str, Any]:
        return fmt.order_json(o, eng.specs[o.symbol])

    def new_order(p: Params, k: str | None, r: web.Request) -> Any:
        return order_json(eng.place_order(key(k), parse_order(p, r, algo=False)))

    def get_order(p: Params, k: str | None, r: web.Request) -> Any:
        return order_json(eng.find_order(key(k), symbol(p), p_int(p, "orderId"), p.get("origClientOrderId")))

    def open_order(p: Params, k: str | None, r: web.Request) -> Any:
        o = eng.find_order(key(k), symbol(p), p_int(p, "orderId"), p.get("origClientOrderId"))
        if not o.is_open:
            raise VenueError(-2013, "Order does not exist.")
        return order_json(o)

    def cancel(p: Params, k: str | None, r: web.Request) -> Any:
        return order_json(eng.cancel_order(key(k), symbol(p), p_int(p, "orderId"), p.get("origClientOrderId")))

    def open_orders(p: Params, k: str | None, r: web.Request) -> Any:
        s = symbol(p) if p.get("symbol") else None
        return [order_json(o) for o in sorted(eng.open_orders(key(k), s), key=lambda o: o.order_id)]

    def all_orders(p: Params, k: str | None, r: web.Request) -> Any:
        s, from_id = symbol(p), p_int(p, "orderId", 0) or 0
        start, end = p_int(p, "startTime"), p_int(p, "endTime")
        rows = [o for o in eng.orders.values() if o.account == key(k) and o.symbol == s and o.order_id >= from_id
                and (start is None or o.time >= start) and (end is None or o.time <= end)]  # fmt: skip
        limit = min(p_int(p, "limit", 500) or 500, 1000)
        return [order_json(o) for o in rows[-limit:]]

    def cancel_all(p: Params, k: str | None, r: web.Request) -> Any:
        eng.cancel_all(key(k), symbol(p))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def user_trades(p: Params, k: str | None, r: web.Request) -> Any:
        s = symbol(p)
        oid, from_id = p_int(p, "orderId"), p_int(p, "fromId")
        start, end = p_int(p, "startTime"), p_int(p, "endTime")
        rows = [f for f in eng.fills if f.account == key(k) and f.symbol == s
                and (oid is None or f.order_id == oid) and (from_id is None or f.trade_id >= from_id)
                and (start is None or f.time >= start) and (end is None or f.time <= end)]  # fmt: skip
        limit = min(p_int(p, "limit", 500) or 500, 1000)
        return [fmt.trade_json(f, eng.specs[s]) for f in rows[-limit:]]

    def algo_json(a: Any) -> dict[str, Any]:
        return fmt.algo_json(a, eng.specs[a.symbol], eng)

    def new_algo(p: Params, k: str | None, r: web.Request) -> Any:
        if p.get("algoType", "CONDITIONAL") != "CONDITIONAL":
            raise VenueError(-1116, "Invalid algoType.")
        return algo_json(eng.place_algo(key(k), parse_order(p, r, algo=True)))

    def get_algo(p: Params, k: str | None, r: web.Request) -> Any:
        s = symbol(p) if p.get("symbol") else None
        return algo_json(eng.find_algo(key(k), s, p_int(p, "algoId"), p.get("clientAlgoId")))

    def cancel_algo(p: Params, k: str | None, r: web.Request) -> Any:
        s = symbol(p) if p.get("symbol") else None
        a = eng.cancel_algo(key(k), s, p_int(p, "algoId"), p.get("clientAlgoId"))
        return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}

    def open_algos(p: Params, k: str | None, r: web.Request) -> Any:
        s = symbol(p) if p.get("symbol") else None
        return [algo_json(a) for a in eng.open_algos.values() if a.account == key(k)
                and (s is None or a.symbol == s)]  # fmt: skip

    def all_algos(p: Params, k: str | None, r: web.Request) -> Any:
        s = symbol(p)
        limit = min(p_int(p, "limit", 500) or 500, 1000)
        rows = [a for a in eng.algos.values() if a.account == key(k) and a.symbol == s]
        return [algo_json(a) for a in rows[-limit:]]

    def cancel_all_algos(p: Params, k: str | None, r: web.Request) -> Any:
        eng.cancel_all_algos(key(k), symbol(p))
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def income(p: Params, k: str | None, r: web.Request) -> Any:
        s = symbol(p) if p.get("symbol") else None
        kind = p.get("incomeType") or None
        start, end = p_int(p, "startTime"), p_int(p, "endTime")
        rows: list[dict[str, Any]] = []
        for f in eng.funding:
            rows.append({"symbol": f.symbol, "incomeType": "FUNDING_FEE", "income": fmt.dec(f.amount), "asset": "USDT",
                         "info": "FUNDING_FEE", "time": f.time, "tranId": f.tran_id, "tradeId": "",
                         "account": f.account})  # fmt: skip
        for t in eng.fills:
            base = {
                "symbol": t.symbol,
                "asset": "USDT",
                "time": t.time,
                "tradeId": str(t.trade_id),
                "account": t.account,
            }
            rows.append({**base, "incomeType": "COMMISSION", "income": fmt.dec(-t.commission), "info": "COMMISSION",
                         "tranId": t.trade_id * 10 + 1})  # fmt: skip
            if t.realized_pnl:
                rows.append({**base, "incomeType": "REALIZED_PNL", "income": fmt.dec(t.realized_pnl),
                             "info": "REALIZED_PNL", "tranId": t.trade_id * 10 + 2})  # fmt: skip

        def wanted(row: dict[str, Any]) -> bool:
            return (row.pop("account") == key(k) and (s is None or row["symbol"] == s)
                    and (kind is None or row["incomeType"] == kind)
                    and (start is None or row["time"] >= start) and (end is None or row["time"] <= end))  # fmt: skip

        rows = [row for row in sorted(rows, key=lambda x: (x["time"], x["tranId"])) if wanted(row)]
        limit = min(p_int(p, "limit", 100) or 100, 1000)
        # oldest first: from startTime on, the first ``limit`` (how a client pages forward by
        # time); without startTime, the newest ``limit``
        return rows[:limit] if start is not None else rows[-limit:]

    return [
        ("GET", "/fapi/v1/income", income),
        ("GET", "/fapi/v2/account", account),
        ("GET", "/fapi/v3/account", account),
        ("GET", "/fapi/v2/balance", balance),
        ("GET", "/fapi/v3/balance", balance),
        ("GET", "/fapi/v2/positionRisk", position_risk(True)),
        ("GET", "/fapi/v3/positionRisk", position_risk(False)),
        ("GET", "/fapi/v1/leverageBracket", leverage_bracket),
        ("POST", "/fapi/v1/leverage", set_leverage),
        ("GET", "/fapi/v1/positionSide/dual", dual_get),
        ("POST", "/fapi/v1/positionSide/dual", dual_set),
        ("POST", "/fapi/v1/marginType", margin_type),
        ("GET", "/fapi/v1/commissionRate", commission_rate),
        ("POST", "/fapi/v1/order", new_order),
        ("GET", "/fapi/v1/order", get_order),
        ("DELETE", "/fapi/v1/order", cancel),
        ("GET", "/fapi/v1/openOrder", open_order),
        ("GET", "/fapi/v1/openOrders", open_orders),
        ("GET", "/fapi/v1/allOrders", all_orders),
        ("DELETE", "/fapi/v1/allOpenOrders", cancel_all),
        ("GET", "/fapi/v1/userTrades", user_trades),
        ("POST", "/fapi/v1/algoOrder", new_algo),
        ("GET", "/fapi/v1/algoOrder", get_algo),
        ("DELETE", "/fapi/v1/algoOrder", cancel_algo),
        ("GET", "/fapi/v1/openAlgoOrders", open_algos),
        ("GET", "/fapi/v1/allAlgoOrders", all_algos),
        ("DELETE", "/fapi/v1/algoOpenOrders", cancel_all_algos),
        # ccxt's fetch_currencies (on by default when keys are set) asks the spot wallet; no coins here.
        ("GET", "/sapi/v1/capital/config/getall", lambda p, k, r: []),
        # ...and, with its default fetchMargins, the spot margin pairs: a futures venue has none.
        ("GET", "/sapi/v1/margin/allPairs", lambda p, k, r: []),
        ("GET", "/sapi/v1/margin/isolated/allPairs", lambda p, k, r: []),
    ]

"""SHADOW adapter: orders are filled locally, never sent, from the latest market prices.

Same port as LIVE, so the executor, the reconciler and every event downstream cannot
tell the difference except by ``mode``. Fills walk the synthetic depth of
``kairos.venues.book`` over the account venue's market specs (maker/taker fees of the spec),
the same pure model the simulator fills with, so SHADOW and the simulator agree on slippage
and fees. Orders live in ``shadow_orders`` (one JSON document per order), so a restart
loses nothing; resting limit and conditional orders are re-evaluated against the current
price whenever they are fetched (the reconciler does that every minute, and on every ticker
of a symbol they rest on: ``kairos.execution.shadow_ticks``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kairos.venues import book
from kairos.venues.book import Side
from kairos.venues.markets import MarketSpec
from kairos.venues.port import (
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    VenueDefinition,
    VenueFunding,
    VenueOrder,
    VenuePosition,
    VenueStatus,
    VenueTrade,
)
from psycopg_pool import ConnectionPool

PriceSource = Callable[[str], Decimal]


class ShadowAdapter:
    mode = "shadow"

    def __init__(self, pool: ConnectionPool, account: str, prices: PriceSource, venue: VenueDefinition) -> None:
        self._pool = pool
        self._account = account
        self._prices = prices
        self._venue = venue

    # --- the port ---------------------------------------------------------------------

    def submit(self, req: OrderRequest) -> VenueOrder:
        spec = self._spec(req.symbol)
        if req.quantity % spec.step_size:
            raise OrderRejected(f"quantity {req.quantity} is off the step {spec.step_size}")
        with self._pool.connection() as conn:
            r = conn.execute(
                "SELECT body FROM shadow_orders WHERE account = %s AND client_order_id = %s",
                (self._account, req.client_order_id),
            ).fetchone()
            if r is not None:
                return self._view(r[0])
            vid = str(conn.execute("SELECT nextval('shadow_ids')").fetchone()[0])  # type: ignore[index]
            body: dict[str, Any] = {
                "cid": req.client_order_id,
                "vid": vid,
                "symbol": req.symbol,
                "side": req.side,
                "type": req.order_type,
                "qty": str(req.quantity),
                "limit": _s(req.limit_price),
                "stop": _s(req.stop_price),
                "activation": _s(req.activation_price),
                "callback": _s(req.callback_rate),
                "tif": req.time_in_force,
                "status": "NEW",
                "trades": [],
                "extreme": None,
                "active": req.activation_price is None,
            }
            body = self._evaluate(body)
            conn.execute(
                "INSERT INTO shadow_orders (account, client_order_id, venue_order_id, body) VALUES (%s,%s,%s,%s)",
                (self._account, req.client_order_id, vid, json.dumps(body)),
            )
        return self._view(body)

    def fetch(self, symbol: str, client_order_id: str, *, conditional: bool) -> VenueOrder:
        with self._pool.connection() as conn, conn.transaction():
            r = conn.execute(
                "SELECT body FROM shadow_orders WHERE account = %s AND client_order_id = %s FOR UPDATE",
                (self._account, client_order_id),
            ).fetchone()
            if r is None:
                raise OrderNotFound(client_order_id)
            body = self._evaluate(r[0])
            conn.execute(
                "UPDATE shadow_orders SET body = %s WHERE account = %s AND client_order_id = %s",
                (json.dumps(body), self._account, client_order_id),
            )
        return self._view(body)

    def cancel(self, symbol: str, client_order_id: str, *, conditional: bool) -> VenueOrder:
        with self._pool.connection() as conn, conn.transaction():
            r = conn.execute(
                "SELECT body FROM shadow_orders WHERE account = %s AND client_order_id = %s FOR UPDATE",
                (self._account, client_order_id),
            ).fetchone()
            if r is None or r[0]["status"] not in ("NEW", "PARTIALLY_FILLED"):
                raise OrderNotFound(client_order_id)
            body = dict(r[0], status="CANCELED")
            conn.execute(
                "UPDATE shadow_orders SET body = %s WHERE account = %s AND client_order_id = %s",
                (json.dumps(body), self._account, client_order_id),
            )
        return self._view(body)

    def open_client_ids(self, symbol: str) -> set[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT client_order_id FROM shadow_orders WHERE account = %s"
                " AND body->>'status' IN ('NEW','PARTIALLY_FILLED')",
                (self._account,),
            ).fetchall()
        return {r[0] for r in rows}

    def open_orders(self, symbol: str) -> list[VenueOrder]:
        return []  # resting SHADOW orders must be re-evaluated one by one (fetch does that)

    def positions(self) -> list[VenuePosition]:
        return []  # nothing is held at a venue; the projection is the only book

    def close_reason(self, symbol: str, since: datetime) -> str:
        return "external_close"  # never asked: SHADOW positions are not compared with a venue

    def balances(self) -> dict[str, Decimal]:
        return {}  # no venue wallet: SHADOW balances exist only in the portfolio ledger

    def funding(self, since: datetime, limit: int = 1000) -> list[VenueFunding]:
        return []  # no venue positions, so no funding settled on them

    def marks(self, symbols: Sequence[str]) -> dict[str, Decimal]:
        """The prices SHADOW fills and triggers from (the venue's public last price)."""
        return {s: self._prices(s) for s in symbols}

    def server_time_ms(self) -> int:
        return int(time.time() * 1000)

    def close(self) -> None:
        return None

    # --- the model (the synthetic book walk and fees the simulator uses too) ------------

    def _spec(self, symbol: str) -> MarketSpec:
        spec = self._venue.market(symbol)
        if spec is None:
            raise OrderRejected(f"unknown symbol {symbol}")
        return spec

    def _evaluate(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return body
        spec, last = self._spec(body["symbol"]), self._prices(body["symbol"])
        side = Side.BUY if body["side"] == "buy" else Side.SELL
        kind = body["type"]
        if kind in ("stop_market", "take_profit_market", "trailing_stop_market") and not self._triggered(body, last):
            return body
        limit = Decimal(body["limit"]) if body["limit"] else None
        remaining = Decimal(body["qty"]) - sum((Decimal(t["qty"]) for t in body["trades"]), Decimal(0))
        maker = False
        if kind == "limit" and limit is not None:
            reached = (side is Side.BUY and last <= limit) or (side is Side.SELL and last >= limit)
            if body.get("rested"):  # as the simulator: a resting limit fills as maker at its price
                fills, maker = ([(limit, remaining)] if reached else []), True
            else:  # on arrival a marketable limit takes liquidity up to its price
                fills = book.walk(spec, last, side, remaining, limit, Decimal(0))
                body["rested"] = True
        else:
            fills = book.walk(spec, last, side, remaining, None, Decimal(0))
        now = int(time.time() * 1000)
        trades = list(body["trades"])
        for price, qty in fills:
            fee = (price * qty * (spec.maker_fee if maker else spec.taker_fee)).quantize(Decimal("0.00000001"))
            trades.append(
                {
                    "id": f"shadow-{body['vid']}-{len(trades) + 1}",
                    "qty": str(qty),
                    "price": str(price),
                    "fee": str(fee),
                    "maker": maker,
                    "time": now,
                }
            )
        filled = sum((Decimal(t["qty"]) for t in trades), Decimal(0))
        status = "FILLED" if filled >= Decimal(body["qty"]) else ("PARTIALLY_FILLED" if filled > 0 else "NEW")
        if status != "FILLED" and body["tif"] in ("IOC", "FOK") and kind == "limit":
            status = "EXPIRED"
        return dict(body, trades=trades, status=status)

    @staticmethod
    def _triggered(body: dict[str, Any], last: Decimal) -> bool:
        sell = body["side"] == "sell"
        if body["type"] == "stop_market":
            return last <= Decimal(body["stop"]) if sell else last >= Decimal(body["stop"])
        if body["type"] == "take_profit_market":
            return last >= Decimal(body["stop"]) if sell else last <= Decimal(body["stop"])
        # trailing: activate, track the favourable extreme, fire at callback % from it (mutates body)
        if not body["active"]:
            act = Decimal(body["activation"])
            body["active"] = last >= act if sell else last <= act
            if not body["active"]:
                return False
        extreme = Decimal(body["extreme"]) if body["extreme"] else last
        extreme = max(extreme, last) if sell else min(extreme, last)
        body["extreme"] = str(extreme)
        rate = Decimal(body["callback"]) / 100
        return last <= extreme * (1 - rate) if sell else last >= extreme * (1 + rate)

    @staticmethod
    def _view(body: dict[str, Any]) -> VenueOrder:
        trades = tuple(
            VenueTrade(
                t["id"],
                Decimal(t["qty"]),
                Decimal(t["price"]),
                Decimal(t["fee"]),
                "USDT",
                t["maker"],
                datetime.fromtimestamp(t["time"] / 1000, UTC),
            )
            for t in body["trades"]
        )
        filled = sum((t.quantity for t in trades), Decimal(0))
        avg = (
            (sum((t.quantity * t.price for t in trades), Decimal(0)) / filled).quantize(Decimal("0.00000001"))
            if filled
            else None
        )
        order = VenueOrder(body["cid"], body["vid"], VenueStatus(body["status"]), filled, avg, trades, body["status"])
        return order


def _s(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None

"""The matching engine: pure, deterministic, no I/O.

Everything the venue knows lives here: accounts, orders, conditional (algo) orders,
fills, positions and an append-only event log. Time and prices come in only through
``set_price``; the HTTP layer and the property tests drive the same methods, so what
the tests prove about the engine holds for what ccxt sees.
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal
from typing import Any

from kairos.venue_sim import algo as algos
from kairos.venue_sim import ledger, margin
from kairos.venue_sim.model import (
    CONDITIONAL_TYPES,
    ZERO,
    Account,
    AlgoOrder,
    Fill,
    FundingPayment,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    VenueError,
)
from kairos.venue_sim.validate import check_price, check_qty, min_notional_error
from kairos.venues import book
from kairos.venues.markets import MarketSpec

log = logging.getLogger(__name__)


class Engine:
    """Accounts, orders and fills of every symbol; see the module docstring."""

    def __init__(
        self, specs: dict[str, MarketSpec], *, unique_client_ids: str = "open", max_events: int = 500_000
    ) -> None:
        self.specs = specs
        self.unique_client_ids = unique_client_ids  # "open" (Binance) or "all"
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}
        self.algos: dict[int, AlgoOrder] = {}
        self.open_algos: dict[int, AlgoOrder] = {}  # status NEW only: what each tick must check
        self.fills: list[Fill] = []
        self.funding: list[FundingPayment] = []
        # newest events only, so a long run stays bounded; ``seq`` keeps counting
        self.events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._event_seq = 0
        self.last: dict[str, Decimal] = {s: m.initial_price for s, m in specs.items()}
        self.mark: dict[str, Decimal] = dict(self.last)
        self.prev_mark: dict[str, Decimal] = dict(self.last)  # mark before the current tick
        self.now = 0
        self._next_order_id = 8_000_000_001
        self._next_algo_id = 1_000_001
        self._next_trade_id = 500_000_001
        self._consumed: dict[tuple[str, Side], Decimal] = {}
        self._rested: set[int] = set()
        # indexes, so a long-running venue stays O(1) per request in orders ever placed
        self._open: dict[int, Order] = {}
        self._by_client_id: dict[tuple[str, str, str], list[int]] = {}
        # Limit orders still marketable after their first match (depth ran out): their
        # remainder keeps taking from the refreshed book instead of resting as a maker.
        self._aggressive: set[int] = set()

    # ----------------------------------------------------------------- accounts
    def add_account(self, api_key: str, secret: str, balance: Decimal) -> Account:
        acct = Account(api_key, secret, balance, balance, update_time=self.now or 1)
        self.accounts[api_key] = acct
        self._log("account", account=api_key, wallet=balance)
        return acct

    def account(self, api_key: str) -> Account:
        acct = self.accounts.get(api_key)
        if acct is None:
            raise VenueError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return acct

    def spec(self, symbol: str) -> MarketSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            raise VenueError(-1121, "Invalid symbol.")
        return spec

    def open_orders(self, api_key: str, symbol: str | None = None) -> list[Order]:
        return [o for o in self._open.values() if o.account == api_key and (symbol is None or o.symbol == symbol)]

    def available(self, api_key: str) -> Decimal:
        return margin.available_balance(self.account(api_key), self.open_orders(api_key), self.mark)

    def set_leverage(self, api_key: str, symbol: str, leverage: int) -> tuple[int, Decimal]:
        acct, spec = self.account(api_key), self.spec(symbol)
        if not 1 <= leverage <= spec.max_leverage:
            raise VenueError(-4028, f"Leverage {leverage} is not valid")
        acct.leverage[symbol] = leverage
        acct.position(symbol, spec.default_leverage).leverage = leverage
        caps = [b.notional_cap for b in spec.brackets if b.max_leverage >= leverage]
        self._log("leverage", account=api_key, symbol=symbol, leverage=leverage)
        return leverage, max(caps) if caps else spec.brackets[0].notional_cap

    # ------------------------------------------------------------------ orders
    def place_order(self, api_key: str, req: OrderRequest) -> Order:
        """Validate and accept a regular order, matching it at once unless fills are delayed.

        Raises VenueError with Binance's code for every refusal (-1111, -1102, -2019, -2022,
        -4003, -4014, -4116, -4164, -5021, -5022, ...).
        """
        acct, spec = self.account(api_key), self.spec(req.symbol)
        if req.type in CONDITIONAL_TYPES:
            raise VenueError(
                -4120,
                "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
            )
        qty = check_qty(spec, req.qty)
        price = ZERO
        if req.type is OrderType.LIMIT:
            price = check_price(spec, req.price, "price")
        self._check_client_id(api_key, spec.symbol, req.client_id)
        pos = acct.position(spec.symbol, spec.default_leverage)
        if req.reduce_only and (pos.amount == 0 or (pos.amount > 0) == (req.side is Side.BUY)):
            raise VenueError(-2022, "ReduceOnly Order is rejected.")
        ref = price if price else self.last[spec.symbol]
        if not req.reduce_only and qty * ref < spec.min_notional:
            raise min_notional_error(spec)
        limit = price if req.type is OrderType.LIMIT else None
        marketable = book.fillable(spec, self.last[spec.symbol], req.side, limit, self._used(spec.symbol, req.side))
        if req.time_in_force is TimeInForce.GTX and marketable > 0:
            raise VenueError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected.",
            )
        if req.time_in_force is TimeInForce.FOK and marketable < qty:
            raise VenueError(
                -5021, "Due to the order could not be filled immediately, the FOK order has been rejected."
            )
        if not req.reduce_only:
            need = margin.increasing_qty(pos, req.side, qty) * ref / pos.leverage
            if need > self.available(api_key):
                raise VenueError(-2019, "Margin is insufficient.")
        order = self._new_order(acct, spec, req, qty, price)
        order.fill_not_before = self.now + req.fill_delay_ms if req.fill_delay_ms else 0
        if not order.fill_not_before:
            self._first_match(order)
        return order

    def _new_order(self, acct: Account, spec: MarketSpec, req: OrderRequest, qty: Decimal, price: Decimal) -> Order:
        oid = self._next_order_id
        self._next_order_id += 1
        order = Order(
            order_id=oid,
            account=acct.api_key,
            client_order_id=req.client_id or f"sim-{oid}",
            symbol=spec.symbol,
            side=req.side,
            type=req.type,
            orig_type=req.type,
            qty=qty,
            price=price,
            time_in_force=req.time_in_force,
            reduce_only=req.reduce_only or req.close_position,
            close_position=req.close_position,
            time=self.now,
            update_time=self.now,
            working_type=req.working_type,
        )
        self.orders[oid] = order
        self._open[oid] = order
        self._by_client_id.setdefault((acct.api_key, spec.symbol, order.client_order_id), []).append(oid)
        self._log_order(order)
        return order

    def _first_match(self, order: Order) -> None:
        """Take liquidity now; then rest (GTC limit), keep working (market) or expire (IOC)."""
        self._take(order)
        self._rested.add(order.order_id)
        if order.is_open and order.type is OrderType.LIMIT and self._marketable(order):
            self._aggressive.add(order.order_id)
        if order.is_open and order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._finish(order, OrderStatus.EXPIRED)

    def _take(self, order: Order) -> None:
        spec = self.specs[order.symbol]
        limit = order.price if order.type is OrderType.LIMIT else None
        key = (order.symbol, order.side)
        for price, qty in book.walk(
            spec, self.last[order.symbol], order.side, order.remaining, limit, self._used(*key)
        ):
            done = self._execute(order, price, qty, maker=False)
            self._consumed[key] = self._used(*key) + done
            if not order.is_open:
                break

    def _used(self, symbol: str, side: Side) -> Decimal:
        return self._consumed.get((symbol, side), ZERO)

    def _execute(self, order: Order, price: Decimal, qty: Decimal, *, maker: bool) -> Decimal:
        """Book one fill of ``order``; returns the quantity actually executed."""
        return ledger.book_fill(self, order, price, qty, maker=maker)

    def _finish(self, order: Order, status: OrderStatus) -> None:
        order.status = status
        order.update_time = self.now
        self._open.pop(order.order_id, None)
        self._aggressive.discard(order.order_id)
        self._log_order(order)
        if order.algo_id is not None:
            algos.child_done(self, order)

    def _on_flat(self, api_key: str, symbol: str) -> None:
        """Binance drops reduce-only and close-position orders once their position is closed."""
        for o in self.open_orders(api_key, symbol):
            if o.reduce_only:
                self._finish(o, OrderStatus.EXPIRED)
        algos.expire_on_flat(self, api_key, symbol)

    def cancel_order(self, api_key: str, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        order = self._lookup(api_key, symbol, order_id, client_id)
        if order is None or not order.is_open:
            raise VenueError(-2011, "Unknown order sent.")
        self._finish(order, OrderStatus.CANCELED)
        return order

    def cancel_all(self, api_key: str, symbol: str) -> list[Order]:
        self.spec(symbol)
        orders = self.open_orders(api_key, symbol)
        for o in orders:
            self._finish(o, OrderStatus.CANCELED)
        return orders

    def find_order(self, api_key: str, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        order = self._lookup(api_key, symbol, order_id, client_id)
        if order is None:
            raise VenueError(-2013, "Order does not exist.")
        return order

    def _lookup(self, api_key: str, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        self.account(api_key)
        self.spec(symbol)
        if order_id is None and not client_id:
            raise VenueError(-1102, "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!")
        if order_id is not None:
            o = self.orders.get(order_id)
            return o if o and o.account == api_key and o.symbol == symbol else None
        matches = [self.orders[i] for i in self._by_client_id.get((api_key, symbol, client_id or ""), [])]
        open_ = [o for o in matches if o.is_open]
        found = open_ or matches
        return found[-1] if found else None

    # ------------------------------------------------------------------ prices
    def set_price(self, symbol: str, last: Decimal, mark: Decimal | None, now: int) -> None:
        """Advance ``symbol`` to a new price tick and match everything it makes fillable."""
        self.now = max(self.now, now)
        self.last[symbol] = last
        self.prev_mark[symbol] = self.mark[symbol]
        self.mark[symbol] = mark if mark is not None else last
        self._consumed.pop((symbol, Side.BUY), None)
        self._consumed.pop((symbol, Side.SELL), None)
        algos.run_triggers(self, symbol)
        for order in sorted(self.open_orders_all(symbol), key=lambda o: o.order_id):
            if order.is_open and order.fill_not_before <= self.now:
                self._work(order)
        ledger.liquidate_crossed(self, symbol)

    def apply_funding(self, symbol: str, rate: Decimal) -> list[FundingPayment]:
        """Settle funding for every open position in ``symbol`` at the current mark price."""
        return ledger.settle_funding(self, symbol, rate)

    def open_orders_all(self, symbol: str) -> list[Order]:
        return [o for o in self._open.values() if o.symbol == symbol]

    def _work(self, order: Order) -> None:
        if order.order_id not in self._rested:
            self._first_match(order)
            return
        if order.type is OrderType.MARKET:
            self._take(order)
            return
        if order.order_id in self._aggressive:
            if self._marketable(order):
                self._take(order)
                return
            self._aggressive.discard(order.order_id)
        last = self.last[order.symbol]
        crossed = last <= order.price if order.side is Side.BUY else last >= order.price
        if not crossed:
            return
        spec = self.specs[order.symbol]
        counter = (order.symbol, Side.SELL if order.side is Side.BUY else Side.BUY)
        room = book.depth_capacity(spec) - self._used(*counter)
        if room > 0:
            done = self._execute(order, order.price, min(order.remaining, room), maker=True)
            self._consumed[counter] = self._used(*counter) + done

    def _marketable(self, order: Order) -> bool:
        bid, ask = book.best_bid_ask(self.specs[order.symbol], self.last[order.symbol])
        return order.price >= ask if order.side is Side.BUY else order.price <= bid

    # ----------------------------------------------------------------- helpers
    # ------------------------------------------------------------ algo orders
    def place_algo(self, api_key: str, req: OrderRequest) -> AlgoOrder:
        return algos.place_algo(self, api_key, req)

    def find_algo(self, api_key: str, symbol: str | None, algo_id: int | None, client_id: str | None) -> AlgoOrder:
        return algos.find_algo(self, api_key, symbol, algo_id, client_id)

    def cancel_algo(self, api_key: str, symbol: str | None, algo_id: int | None, client_id: str | None) -> AlgoOrder:
        return algos.cancel_algo(self, api_key, symbol, algo_id, client_id)

    def cancel_all_algos(self, api_key: str, symbol: str) -> list[AlgoOrder]:
        return algos.cancel_all_algos(self, api_key, symbol)

    def _check_client_id(self, api_key: str, symbol: str, client_id: str | None) -> None:
        if not client_id:
            return
        if len(client_id) > 36:
            raise VenueError(-4015, "Client order id is not valid.")
        for oid in self._by_client_id.get((api_key, symbol, client_id), []):
            if self.orders[oid].is_open or self.unique_client_ids == "all":
                raise VenueError(-4116, "ClientOrderId is duplicated.")

    def _log_order(self, order: Order) -> None:
        self._log(
            "order",
            account=order.account,
            symbol=order.symbol,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            side=order.side.value,
            type=order.type.value,
            status=order.status.value,
            qty=order.qty,
            price=order.price,
            executed_qty=order.executed_qty,
            reduce_only=order.reduce_only,
        )

    def _log(self, kind: str, **data: Any) -> None:
        self._event_seq += 1
        self.events.append({"seq": self._event_seq, "time": self.now, "kind": kind, **data})

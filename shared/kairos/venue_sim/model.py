"""Venue-side records: orders, conditional (algo) orders, fills, positions, accounts, errors.

Plain mutable dataclasses owned by the engine; only the engine changes them. Names and
states follow Binance's USD-M futures vocabulary so the HTTP layer is a straight mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from kairos.venues.book import Side
from kairos.venues.markets import ZERO

ENTRY_Q = Decimal("0.00000001")


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"


CONDITIONAL_TYPES = frozenset(
    {
        OrderType.STOP,
        OrderType.STOP_MARKET,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_MARKET,
        OrderType.TRAILING_STOP_MARKET,
    }
)


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"  # post only


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class AlgoStatus(StrEnum):
    NEW = "NEW"
    TRIGGERED = "TRIGGERED"
    FINISHED = "FINISHED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


class WorkingType(StrEnum):
    CONTRACT_PRICE = "CONTRACT_PRICE"
    MARK_PRICE = "MARK_PRICE"


class VenueError(Exception):
    """A request the venue refuses, carried to the client as Binance's ``{code, msg}``."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


@dataclass
class Order:
    """A matching-engine order (``/fapi/v1/order``)."""

    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    orig_type: OrderType
    qty: Decimal
    price: Decimal  # 0 for market orders
    time_in_force: TimeInForce
    reduce_only: bool
    close_position: bool
    time: int
    update_time: int
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    stop_price: Decimal = ZERO
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    fill_not_before: int = 0  # venue ms; the "fills delayed" fault holds fills until then
    algo_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO


@dataclass
class AlgoOrder:
    """A conditional order held by the algo service until it triggers (``/fapi/v1/algoOrder``)."""

    algo_id: int
    account: str
    client_algo_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Decimal  # 0 with closePosition
    price: Decimal  # limit price of STOP / TAKE_PROFIT, else 0
    trigger_price: Decimal
    time_in_force: TimeInForce
    working_type: WorkingType
    reduce_only: bool
    close_position: bool
    create_time: int
    update_time: int
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None  # percent, e.g. 1 = 1 %
    status: AlgoStatus = AlgoStatus.NEW
    activated: bool = False
    extreme: Decimal | None = None  # best price seen since a trailing stop activated
    trigger_time: int = 0
    actual_order_id: int | None = None


@dataclass(frozen=True)
class Fill:
    """One execution: the unit the position and wallet are folded from."""

    trade_id: int
    account: str
    symbol: str
    order_id: int
    side: Side
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time: int

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True)
class FundingPayment:
    """A funding settlement: ``amount`` > 0 was received, < 0 paid (longs pay a positive rate)."""

    tran_id: int
    account: str
    symbol: str
    rate: Decimal
    mark: Decimal
    amount: Decimal
    time: int


@dataclass
class Position:
    """One-way (BOTH) position of one account in one symbol."""

    symbol: str
    amount: Decimal = ZERO  # signed: > 0 long, < 0 short
    entry_price: Decimal = ZERO
    leverage: int = 20
    update_time: int = 0

    def apply(self, side: Side, qty: Decimal, price: Decimal) -> Decimal:
        """Fold one fill into the position; returns the realised PnL of the reduced part."""
        signed = qty * side.sign
        realized = ZERO
        if self.amount == 0 or (self.amount > 0) == (signed > 0):
            new_amount = self.amount + signed
            # kept to 8 decimals, as the venue reports it, so PnL sums stay exact
            self.entry_price = ((abs(self.amount) * self.entry_price + qty * price) / abs(new_amount)).quantize(ENTRY_Q)
            self.amount = new_amount
            return realized
        closed = min(qty, abs(self.amount))
        direction = 1 if self.amount > 0 else -1
        realized = closed * (price - self.entry_price) * direction
        self.amount += signed
        if self.amount == 0:
            self.entry_price = ZERO
        elif (self.amount > 0) != (direction > 0):  # flipped through zero
            self.entry_price = price
        return realized


@dataclass
class Account:
    """An isolated trading account, addressed by its API key."""

    api_key: str
    secret: str
    wallet: Decimal
    initial_wallet: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    update_time: int = 0

    def position(self, symbol: str, default_leverage: int) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = Position(symbol, leverage=self.leverage.get(symbol, default_leverage))
            self.positions[symbol] = pos
        return pos


@dataclass(frozen=True)
class OrderRequest:
    """A parsed new-order request (regular or conditional)."""

    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    close_position: bool = False
    client_id: str | None = None
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    fill_delay_ms: int = 0

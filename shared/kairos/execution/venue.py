"""The venue port: what the executor and the reconciler need from any venue, and nothing more.

Implementations: ``live.LiveCcxtAdapter`` (a real venue through ccxt async) and
``shadow.ShadowAdapter`` (fills simulated locally). Each translates its own exceptions
into the classes below at its boundary, so the service decides by meaning, not by
library: was the request executed (no / maybe), may we retry, must we back off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from kairos.errors import TransientError

CONDITIONAL_TYPES = frozenset({"stop_market", "take_profit_market", "trailing_stop_market"})


class VenueStatus(StrEnum):
    """The venue's order status, normalised (Binance names)."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    order_type: str  # market | limit | stop_market | take_profit_market | trailing_stop_market
    quantity: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    activation_price: Decimal | None = None
    callback_rate: Decimal | None = None
    reduce_only: bool = False
    time_in_force: str | None = None

    @property
    def conditional(self) -> bool:
        return self.order_type in CONDITIONAL_TYPES


@dataclass(frozen=True)
class VenueTrade:
    trade_id: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str | None
    is_maker: bool | None
    time: datetime


@dataclass(frozen=True)
class VenueOrder:
    """The venue's truth about one order; ``trades`` may be empty when none were asked for."""

    client_order_id: str
    venue_order_id: str
    status: VenueStatus
    filled_quantity: Decimal = Decimal("0")
    average_price: Decimal | None = None
    trades: tuple[VenueTrade, ...] = field(default_factory=tuple)
    raw_status: str = ""


@dataclass(frozen=True)
class VenuePosition:
    """One open position as the venue reports it (one-way mode): ``amount`` signed, long > 0."""

    symbol: str
    amount: Decimal
    entry_price: Decimal


class VenueError(TransientError):
    """Base of venue failures (transient unless a subclass says otherwise)."""

    code = "venue_error"


class OutcomeUnknown(VenueError):
    """The request may have been executed (timeout, reset, 5xx): never read as failed."""

    code = "venue_outcome_unknown"


class VenueUnavailable(VenueError):
    """The request was not executed and can be retried later (auth, clock, maintenance)."""

    code = "venue_unavailable"


class RateLimited(VenueError):
    """429 / 418: back off for ``retry_after`` seconds; the request was not executed."""

    code = "venue_rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OrderRejected(Exception):
    """The venue refused the order: final, nothing was executed. Not a KairosError on
    purpose: it is an outcome recorded on the order, not an error of the delivery."""

    def __init__(self, reason: str, venue_code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.venue_code = venue_code


class DuplicateClientId(OrderRejected):
    """The venue already has an order with this client id: fetch it, never fail."""


class OrderNotFound(Exception):
    """The venue positively answered that it does not know the order."""


class VenueAdapter(Protocol):
    """One interface, chosen per account: LIVE or SHADOW. All methods are blocking."""

    mode: str

    def submit(self, req: OrderRequest) -> VenueOrder:
        """Place the order. Raises OrderRejected / DuplicateClientId / OutcomeUnknown /
        RateLimited / VenueUnavailable."""
        ...

    def fetch(self, symbol: str, client_order_id: str, *, conditional: bool) -> VenueOrder:
        """The order with its trades. Raises OrderNotFound, or a VenueError (not an answer)."""
        ...

    def cancel(self, symbol: str, client_order_id: str, *, conditional: bool) -> VenueOrder:
        """Cancel; returns the venue's view afterwards. Raises OrderNotFound (unknown or
        already closed at the venue: fetch to learn which) or a VenueError."""
        ...

    def open_client_ids(self, symbol: str) -> set[str]:
        """Client ids of the open orders (plain and conditional) on ``symbol`` (orphan scan)."""
        ...

    def open_orders(self, symbol: str) -> list[VenueOrder]:
        """Every open order on ``symbol`` in one or two requests (the reconciler's bulk pass).
        An adapter may return [] to make the reconciler fetch each order on its own."""
        ...

    def positions(self) -> list[VenuePosition]:
        """Every non-zero position of the account (the reconciler adopts those no fill explains).
        A SHADOW adapter has none: its positions exist only in our projection."""
        ...

    def marks(self, symbols: Sequence[str]) -> dict[str, Decimal]:
        """Current mark prices of ``symbols`` (public data; one request where the venue allows).
        A symbol the venue does not price is left out, not guessed."""
        ...

    def server_time_ms(self) -> int: ...

    def close(self) -> None: ...

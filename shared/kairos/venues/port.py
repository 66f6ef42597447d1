"""The venue port: what Kairos needs from any venue, and nothing more.

Two interfaces. ``VenueAdapter`` trades one account (the executor, the reconciler):
implemented per venue package for LIVE (e.g. ``kairos.venues.binance_usdm.live``) and once,
venue-neutral, for SHADOW (``kairos.execution.shadow``, fills simulated locally).
``PublicVenue`` reads what needs no keys (the clock guard's server time, SHADOW's last
prices). Each implementation translates its own exceptions into the classes below at its
boundary, so callers decide by meaning, not by library: was the request executed
(no / maybe), may we retry, must we back off.

A venue package describes itself with one ``VenueDefinition`` (its name as stored on
accounts, its capabilities, its market specs, how to build its adapters);
``kairos.venues.registry`` finds the definition for an account's venue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from kairos.errors import TransientError
from kairos.venues.markets import MarketSpec

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


@dataclass(frozen=True)
class VenueFunding:
    """One funding payment the venue settled on the account: ``amount`` > 0 received, < 0 paid.
    ``funding_id`` is the venue's own id of the payment (what makes applying it idempotent)."""

    funding_id: str
    symbol: str
    asset: str
    amount: Decimal
    at: datetime


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


@dataclass(frozen=True)
class Credentials:
    """An account's API key and secret, opened from the vault only to build its LIVE adapter."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(api_key=***, secret=***)"

    __str__ = __repr__


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
        """Every position of the account: the list is complete, so a symbol absent from it is
        flat (zero amounts may be listed too). The reconciler closes open rows the venue shows
        flat and adopts what no fill explains. A SHADOW adapter has none: its positions exist
        only in our projection (and are never compared with a venue)."""
        ...

    def close_reason(self, symbol: str, since: datetime) -> str:
        """Why the account's ``symbol`` position became flat since ``since`` without a fill of
        ours: ``liquidation``, ``auto_deleverage`` (the venue closed it) or ``external_close``.
        Raises VenueError when the venue cannot tell."""
        ...

    def balances(self) -> dict[str, Decimal]:
        """The account's wallet balance per asset (realized PnL, fees and funding in; unrealized
        PnL out): what the portfolio's ledger is reconciled with. A SHADOW adapter has none."""
        ...

    def funding(self, since: datetime, limit: int = 1000) -> list[VenueFunding]:
        """One page: the first ``limit`` funding payments settled on the account at or after
        ``since``, oldest first: what the ledger adds to the wallet besides fills. A page of
        ``limit`` payments may have more after it (``kairos.portfolio.funding`` pages on by
        time). A SHADOW adapter has none."""
        ...

    def marks(self, symbols: Sequence[str]) -> dict[str, Decimal]:
        """Current mark prices of ``symbols`` (public data; one request where the venue allows).
        A symbol the venue does not price is left out, not guessed."""
        ...

    def server_time_ms(self) -> int: ...

    def close(self) -> None: ...


class PublicVenue(Protocol):
    """A venue's public data, read without keys. Methods are blocking and raise VenueError."""

    def server_time_ms(self) -> int: ...

    def last_price(self, symbol: str) -> Decimal:
        """The last traded price of ``symbol`` (ccxt's unified or the venue's native spelling)."""
        ...


@dataclass(frozen=True)
class Capabilities:
    """What a venue supports, as data, so a venue's differences are stated in one place.

    The execution wiring refuses a venue whose client order ids are shorter than Kairos's;
    the other fields are read by no code yet: they describe the venue (docs/VENUES.md).
    ``order_types`` and ``time_in_force`` use the port's spelling (``OrderRequest``).
    """

    order_types: frozenset[str]
    time_in_force: frozenset[str]
    reduce_only: bool  # a reduce-only flag on every order type above
    native_trailing: bool  # trailing stops held and triggered by the venue itself
    conditional_orders_apart: bool  # stops live in their own order book with their own client id
    one_way_positions: bool  # Kairos trades one-way (net) positions on it
    hedge_mode: bool  # Kairos trades hedge-mode (long and short apart) positions on it
    reports_positions: bool  # positions can be read (the stop check, adoption)
    client_id_max_length: int  # the longest client order id the venue accepts


LiveFactory = Callable[[str | None, Credentials, int], VenueAdapter]
"""(base URL or None for the venue's production hosts, credentials, timeout ms) -> LIVE adapter."""

PublicFactory = Callable[[str | None, int | None], PublicVenue]
"""(base URL or None, timeout ms or None for the client's default) -> public data reader."""


@dataclass(frozen=True)
class VenueDefinition:
    """Everything Kairos knows about one venue, exported by its package."""

    name: str  # as stored in ``exec_accounts.venue`` and carried on order commands
    capabilities: Capabilities
    markets: Mapping[str, MarketSpec]  # by native symbol; what SHADOW fills against
    native_symbol: Callable[[str], str]  # ccxt's unified symbol -> the venue's own
    live: LiveFactory
    public: PublicFactory

    def market(self, symbol: str) -> MarketSpec | None:
        """The spec of ``symbol`` (unified or native spelling), None when the venue has none."""
        return self.markets.get(self.native_symbol(symbol))

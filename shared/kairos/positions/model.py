"""Value types of the positions core: positions, fills, protection settings, protective orders.

Everything is a frozen pydantic model with Decimal money, so the same objects can be folded
in memory, stored as JSON and carried in events without a second representation. Nothing
here does I/O; the rules that change these values live in ``fold``, ``targets`` and ``plan``.

The types a position's events and the executor's order events carry (sides, statuses, the slot
key, order states) are defined once, in the contracts (``kairos.contracts.positions``,
``kairos.contracts.execution``), and imported here as part of the core's vocabulary.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field, field_serializer, model_validator

from kairos.contracts.execution import OrderState
from kairos.contracts.positions import OrderSide, PositionKey, PositionSide, PositionStatus
from kairos.contracts.types import Amount, Contract, PositiveAmount, UtcDatetime

ZERO = Decimal(0)
ONE = Decimal(1)


class Mode(StrEnum):
    LIVE = "LIVE"  # protective orders rest at the venue
    SHADOW = "SHADOW"  # triggers simulated against market prices


class FillIntent(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    PROTECTIVE = "protective"


class ProtectiveKind(StrEnum):
    TP = "TP"
    SL = "SL"
    TRAILING = "TRAILING"


class TrailingMode(StrEnum):
    NATIVE = "NATIVE"  # a trailing-stop order at the venue (used only where the venue has one)
    EMULATED = "EMULATED"  # the SL order is moved by the sync loop from the price extreme


RESTING_STATES = frozenset({OrderState.OPEN, OrderState.PARTIALLY_FILLED})
"""Confirmed at the venue and able to trigger."""
PENDING_STATES = frozenset({OrderState.NEW, OrderState.SUBMITTED, OrderState.UNKNOWN, OrderState.CANCELING})
"""Outcome not confirmed yet: may rest at the venue, so it is never duplicated, only waited for."""
DEAD_STATES = frozenset({OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED})
"""Final without having filled completely; a new order for the same target needs a new id."""


def _exactly_one(name: str, **values: Decimal | None) -> None:
    given = [k for k, v in values.items() if v is not None]
    if len(given) != 1:
        raise ValueError(f"{name}: give exactly one of {sorted(values)}, got {sorted(given)}")


class TakeProfitLevel(Contract):
    """One TP level: where (price, or distance from the average entry) and how much.

    ``fraction`` is a share of the position's peak quantity, so a level keeps its size when
    earlier levels fill; ``quantity`` is an absolute size.
    """

    price: PositiveAmount | None = None
    distance: PositiveAmount | None = None
    distance_pct: PositiveAmount | None = None
    fraction: PositiveAmount | None = None
    quantity: PositiveAmount | None = None

    @model_validator(mode="after")
    def _check(self) -> TakeProfitLevel:
        _exactly_one("take-profit price", price=self.price, distance=self.distance, distance_pct=self.distance_pct)
        _exactly_one("take-profit size", fraction=self.fraction, quantity=self.quantity)
        if self.fraction is not None and self.fraction > ONE:
            raise ValueError(f"take-profit fraction must be <= 1, got {self.fraction}")
        return self


class StopLoss(Contract):
    """The stop: an absolute price or a distance (absolute or percent) from the average entry."""

    price: PositiveAmount | None = None
    distance: PositiveAmount | None = None
    distance_pct: PositiveAmount | None = None

    @model_validator(mode="after")
    def _check(self) -> StopLoss:
        _exactly_one("stop-loss", price=self.price, distance=self.distance, distance_pct=self.distance_pct)
        return self


class Trailing(Contract):
    """Trailing stop: activates at ``activation_price`` (at once when None), then follows the
    price extreme at ``callback_rate`` percent (Binance's unit: 1 = 1 %)."""

    activation_price: PositiveAmount | None = None
    callback_rate: PositiveAmount
    mode: TrailingMode = TrailingMode.NATIVE

    @model_validator(mode="after")
    def _check(self) -> Trailing:
        if self.callback_rate >= Decimal(100):
            raise ValueError(f"callback_rate is a percent below 100, got {self.callback_rate}")
        return self


class Protection(Contract):
    """What protection a position should have. Levels are ordered nearest first."""

    take_profits: tuple[TakeProfitLevel, ...] = ()
    stop_loss: StopLoss | None = None
    trailing: Trailing | None = None

    @property
    def empty(self) -> bool:
        return not self.take_profits and self.stop_loss is None and self.trailing is None


class TrailState(Contract):
    """Where an emulated (or simulated) trailing stop stands: activated yet, best price since."""

    activated: bool = False
    extreme: Amount | None = None


class Position(Contract):
    """The projection of one position's lifetime, folded from its fills.

    ``quantity`` is the absolute size and ``side`` its direction; ``entry_price`` is the
    quantity-weighted average of the entries still open; ``realised_pnl`` is net of every
    fee paid on this position (entry fees included). ``revision`` counts applied fills and
    settings changes: protective command ids include it, so a new size gives new commands.
    """

    position_id: str
    key: PositionKey
    side: PositionSide
    status: PositionStatus
    quantity: Amount
    peak_quantity: Amount
    entry_price: Amount
    realised_pnl: Amount = ZERO
    fees_paid: Amount = ZERO
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    closed_at: UtcDatetime | None = None
    strategy_id: str | None = None
    mode: Mode = Mode.LIVE
    managed: bool = True  # False: adopted from the venue (opened by hand), not by our commands
    protect: bool = True  # configuration says: give it TP/SL
    protection: Protection = Field(default_factory=Protection)
    trail: TrailState | None = None
    tp_filled: dict[int, Amount] = Field(default_factory=dict)  # TP level -> quantity filled by it
    applied_trade_ids: frozenset[str] = frozenset()
    revision: int = 0

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign

    @property
    def is_open(self) -> bool:
        return self.status is not PositionStatus.CLOSED

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        """Gross PnL of the open quantity at ``mark`` (exit fees not yet paid are not guessed)."""
        return (mark - self.entry_price) * self.signed_quantity

    @field_serializer("applied_trade_ids")
    def _sorted_ids(self, ids: frozenset[str]) -> list[str]:
        return sorted(ids)  # a set has no order; stored JSON should not depend on the hash seed

    def with_protection(self, protection: Protection) -> Position:
        """New settings: bumps ``revision`` so the next sync derives fresh commands."""
        return self.model_copy(update={"protection": protection, "revision": self.revision + 1})


class Fill(Contract):
    """One venue trade as ``exec.fill`` reports it, with what the order was for.

    ``fee`` is in the settlement (quote) asset, positive when paid, negative for a rebate;
    the integration converts other fee assets before folding. ``order_remaining`` is the
    order's unfilled quantity after this trade (None = unknown, read as complete).
    """

    venue_trade_id: str = Field(min_length=1)
    order_id: str | None = None
    client_order_id: str | None = None
    account: str
    venue: str
    symbol: str
    side: OrderSide
    quantity: PositiveAmount
    price: PositiveAmount
    fee: Amount = ZERO
    fee_asset: str | None = None
    reduce_only: bool = False
    position_side: PositionSide | None = None  # hedge mode only
    occurred_at: UtcDatetime
    intent: FillIntent = FillIntent.ENTRY
    tag: ProtectiveKind | None = None
    tp_level: int | None = None
    strategy_id: str | None = None
    order_remaining: Amount | None = None

    @property
    def key(self) -> PositionKey:
        return PositionKey(account=self.account, venue=self.venue, symbol=self.symbol, hedge_side=self.position_side)


class ProtectiveOrder(Contract):
    """The view of one protective order the sync needs: what it is, where, how big, its state.

    ``price`` is the trigger (TP/SL) or the activation price (trailing, may be None).
    """

    kind: ProtectiveKind
    client_order_id: str
    command_id: str  # the command that created this order (placement, or an amend's replacement)
    status: OrderState
    price: Amount | None = None
    quantity: Amount
    filled_quantity: Amount = ZERO
    level: int | None = None  # TP level index
    callback_rate: Amount | None = None
    updated_at: datetime | None = None

    @property
    def resting(self) -> bool:
        return self.status in RESTING_STATES

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATES

    @property
    def active(self) -> bool:
        """Resting or possibly resting: counts as present, so it is never placed twice."""
        return self.status in RESTING_STATES or self.status in PENDING_STATES

    @property
    def open_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity


class VenueRules(Contract):
    """What the venue allows for one symbol: price tick, quantity step, native features."""

    tick_size: PositiveAmount
    step_size: PositiveAmount
    min_quantity: Amount = ZERO
    native_trailing: bool = True
    callback_min: Amount = Decimal("0.1")
    callback_max: Amount = Decimal("10")

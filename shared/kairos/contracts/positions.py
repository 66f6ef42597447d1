"""Position facts (``event.position``) and the sync command (``cmd.sync_position``).

``PositionEvent`` is the one model of every ``kairos.event.position_*`` payload (so the
positions core's fold stays simple), together with the value types it carries (sides,
statuses, the slot key), which the core imports from here. Each event type gets its own
subclass only because the registry maps one model class to one (type, version); the
subclass refuses a payload whose ``kind`` names another type, so a mislabelled event is
dead-lettered.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from kairos.contracts.registry import register
from kairos.contracts.types import Amount, Contract, UtcDatetime


class PositionSide(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        return 1 if self is PositionSide.LONG else -1

    @property
    def exit_side(self) -> OrderSide:
        """The order side that reduces a position of this side."""
        return OrderSide.SELL if self is PositionSide.LONG else OrderSide.BUY


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1


class PositionStatus(StrEnum):
    OPENING = "OPENING"  # entry order partly filled, more to come
    OPEN = "OPEN"
    PARTIALLY_CLOSED = "PARTIALLY_CLOSED"
    CLOSED = "CLOSED"


class PositionKey(Contract):
    """Identity of a position slot: one per account, venue and symbol (and side in hedge mode)."""

    account: str
    venue: str
    symbol: str
    hedge_side: PositionSide | None = None  # None = one-way mode

    def text(self) -> str:
        return f"{self.account}|{self.venue}|{self.symbol}|{self.hedge_side or 'BOTH'}"


class PositionEventKind(StrEnum):
    OPENED = "position_opened"
    INCREASED = "position_increased"
    PARTIALLY_CLOSED = "position_partially_closed"
    CLOSED = "position_closed"
    STATUS_CHANGED = "position_status_changed"


class PositionEvent(Contract):
    """A fact about one position, keyed by ``position_id`` (the partition key)."""

    event_id: str
    kind: PositionEventKind
    position_id: str
    key: PositionKey
    side: PositionSide
    status: PositionStatus
    previous_status: PositionStatus | None = None
    quantity: Amount
    quantity_delta: Amount
    entry_price: Amount
    realised_pnl: Amount
    realised_pnl_delta: Amount
    venue_trade_id: str | None = None
    managed: bool = True
    occurred_at: UtcDatetime

    @property
    def event_type(self) -> str:
        return f"kairos.event.{self.kind.value}"


def _kind_is_const(schema: dict[str, Any], model: type[Any]) -> None:
    """The schema says what the validator below checks: ``kind`` is this type's kind."""
    schema["properties"]["kind"] = {"const": model.KIND.value}


class _KindChecked(PositionEvent):
    KIND: ClassVar[PositionEventKind]
    model_config = ConfigDict(json_schema_extra=_kind_is_const)

    @model_validator(mode="after")
    def _kind_matches_type(self) -> _KindChecked:
        if self.kind is not self.KIND:
            raise ValueError(f"kind {self.kind.value} does not match event type kairos.event.{self.KIND.value}")
        return self


@register("kairos.event.position_opened", 1)
class PositionOpened(_KindChecked):
    """A position opened (or was adopted from the venue: ``managed`` is false then)."""

    KIND = PositionEventKind.OPENED


@register("kairos.event.position_increased", 1)
class PositionIncreased(_KindChecked):
    KIND = PositionEventKind.INCREASED


@register("kairos.event.position_partially_closed", 1)
class PositionPartiallyClosed(_KindChecked):
    KIND = PositionEventKind.PARTIALLY_CLOSED


@register("kairos.event.position_closed", 1)
class PositionClosed(_KindChecked):
    KIND = PositionEventKind.CLOSED


@register("kairos.event.position_status_changed", 1)
class PositionStatusChanged(_KindChecked):
    KIND = PositionEventKind.STATUS_CHANGED


EVENT_MODELS: dict[PositionEventKind, type[_KindChecked]] = {
    m.KIND: m for m in (PositionOpened, PositionIncreased, PositionPartiallyClosed, PositionClosed,
                        PositionStatusChanged)
}


def as_contract(event: PositionEvent) -> _KindChecked:
    """The registered payload for one core event (same fields, the subclass of its kind)."""
    return EVENT_MODELS[event.kind].model_validate(event.model_dump())


SyncCause = Literal["schedule", "fill", "order_event", "tp_step", "adoption", "operator"]


@register("kairos.cmd.sync_position", 1)
class SyncPosition(Contract):
    """Sync one position's protection now. ``command_id`` is stable per (position, slot) for
    the scheduler and per (position, cause event) for immediate syncs, so copies dedupe."""

    command_id: str = Field(min_length=8, max_length=64)
    position_id: str
    cause: SyncCause
    slot: UtcDatetime | None = None
    due_at: UtcDatetime | None = None
    priority: int = Field(default=2, ge=0, le=2, description="0 emergency, 1 unprotected, 2 routine")

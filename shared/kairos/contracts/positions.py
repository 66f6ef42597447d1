"""Position facts (``event.position``) and the sync command (``cmd.sync_position``).

The payload of every ``kairos.event.position_*`` type is the positions core's
``PositionEvent`` (one model, so the fold stays simple); each type gets its own subclass
here only because the registry maps one model class to one (type, version). The subclass
refuses a payload whose ``kind`` names another type, so a mislabelled event is dead-lettered.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from kairos.contracts.registry import register
from kairos.contracts.types import Contract, UtcDatetime
from kairos.positions.events import PositionEvent, PositionEventKind


class _KindChecked(PositionEvent):
    KIND: ClassVar[PositionEventKind]

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

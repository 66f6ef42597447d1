"""Domain events of a position (the ``event.position_*`` types) and deterministic ids.

One model for every kind keeps the fold simple; the integration registers one contract per
topic type from ``PositionEvent.event_type``. Ids are hashes of what happened, so replaying
the same fills produces the same event ids and the outbox/inbox dedupe them.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from kairos.contracts.types import Amount, Contract, UtcDatetime
from kairos.positions.model import PositionKey, PositionSide, PositionStatus


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


def stable_id(*parts: object, prefix: str = "", length: int = 32) -> str:
    """A short deterministic id from ``parts`` (sha256, hex): same inputs, same id, any process."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}{digest[:length]}"


def position_id_for(key_text: str, opening_trade_id: str) -> str:
    """A position's id: its slot plus the trade that opened it, so a replay finds the same id."""
    return stable_id(key_text, opening_trade_id, prefix="pos-", length=24)

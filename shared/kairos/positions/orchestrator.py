"""The orchestrator: derive the phase, call the adapter of the position's mode, record the outcome.

The adapter interface is ``TradingAdapter`` (one method per phase, LIVE and SHADOW
implement the same three). This module only *calls* the injected adapter; the adapters and
the function around them (``position-sync``: parse, load, call this, persist, acknowledge)
are the integration. What position-sync persists is the ``SyncOutcome``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from kairos.positions.diagnostics import Diagnostics, Phase, derive
from kairos.positions.model import Mode, Position, ProtectiveOrder, VenueRules


class TradingAdapter(Protocol):
    """LIVE reconciles at the venue through the executor (``plan``); SHADOW simulates (``shadow``).

    Each method returns short descriptions of the actions it took (for the sync outcome).
    """

    mode: Mode

    async def sync_creation(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]: ...

    async def sync_promotion(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]: ...

    async def sync_ongoing(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """The last sync of a position: when, which phase, what was done, whether it is protected."""

    position_id: str
    at: datetime
    phase: Phase
    mode: Mode
    actions: tuple[str, ...]
    protected: bool

    def text(self) -> str:
        done = "; ".join(self.actions) if self.actions else "nothing to do"
        return f"{self.phase.value}/{self.mode.value}: {done}"


async def sync_position(
    position: Position,
    orders: Sequence[ProtectiveOrder],
    rules: VenueRules,
    adapters: Mapping[Mode, TradingAdapter],
    now: datetime,
    mark: Decimal | None = None,
) -> SyncOutcome:
    """One sync: diagnostics -> phase -> the adapter's method for it. Raises KeyError when no
    adapter serves the position's mode (a configuration error, not a transient one)."""
    diagnostics = derive(position, orders, rules, mark)
    adapter = adapters[position.mode]
    method = {
        Phase.CREATION: adapter.sync_creation,
        Phase.PROMOTION: adapter.sync_promotion,
        Phase.ONGOING: adapter.sync_ongoing,
    }[diagnostics.phase]
    taken = tuple(await method(position, diagnostics))
    return SyncOutcome(
        position_id=position.position_id,
        at=now,
        phase=diagnostics.phase,
        mode=position.mode,
        actions=taken,
        protected=diagnostics.protected,
    )

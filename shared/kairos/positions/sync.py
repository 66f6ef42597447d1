"""One sync of one position, decided: its state in, the ordered steps and the outcome out.

The state is read once by the caller (position-sync, ``kairos.portfolio.sync``): the
position, its protective orders, the mark, the protective fills the fold has not applied
yet, and the recent failed placements. From it this module derives the diagnostics once and
plans in two checked steps, so that no stop is sent for a position a TP has just closed:

1. While a protective order has fills the fold has not applied, nothing is planned: the
   position is stale (a TP level not counted as filled yet would be placed again, an SL
   sized for too much). The fill's fold syncs the position again.
2. Cleanup and the TP step are planned. If the TP step places an order, the SL step waits
   for that order's event (the next sync). Otherwise the SL step is released by the checks
   on our records (position open, no unfolded TP fill, closable quantity covers the stop).
3. Then the safety actions (re-reads, alerts, the fallback close).

LIVE and SHADOW positions are decided alike; they differ only in the account that holds the
orders. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kairos.positions.actions import Action, ActionKind
from kairos.positions.diagnostics import Diagnostics, Phase, derive
from kairos.positions.model import Mode, Position, ProtectiveOrder, TrailState, VenueRules
from kairos.positions.plan import PlacementFailure, PlanConfig, SlBlock, VenueChecks, plan


@dataclass(frozen=True, slots=True)
class UnfoldedFills:
    """Fills of the position's protective orders the executor recorded and the fold has not applied."""

    quantity: Decimal
    tp: bool


@dataclass(frozen=True, slots=True)
class SyncDecision:
    """What one sync does, in order: an ``Action`` is sent, a text says what waits and why."""

    diagnostics: Diagnostics
    steps: tuple[Action | str, ...]
    trail_state: TrailState | None  # the emulated trail moved: persist it


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


def decide(
    position: Position,
    orders: Sequence[ProtectiveOrder],
    rules: VenueRules,
    *,
    mark: Decimal | None,
    unfolded: UnfoldedFills,
    failures: Sequence[PlacementFailure] = (),
    config: PlanConfig = PlanConfig(),
) -> SyncDecision:
    """The steps of one sync of ``position`` (see the module's docstring for their order)."""
    d = derive(position, orders, rules, mark)
    if unfolded.quantity > 0 and position.is_open:
        why = "tp_filled" if unfolded.tp else "stale_quantity"
        return SyncDecision(d, (f"waiting for {unfolded.quantity} of protective fills to fold (re-read), "
                                f"SL blocked: {why}",), None)
    first = plan(position, orders, rules, mark=mark, failures=failures, config=config, diagnostics=d)
    steps: list[Action | str] = [*first.cleanup, *first.tp]
    final = first
    if first.sl_blocked is SlBlock.NOT_CHECKED:
        if any(a.kind is ActionKind.PLACE for a in first.tp):
            steps.append("SL step waits for the TP order's event")
        else:
            checks = VenueChecks(position_open=position.is_open and position.quantity > 0, tp_filled=unfolded.tp,
                                 closable_quantity=position.quantity - unfolded.quantity)
            final = plan(position, orders, rules, mark=mark, checks=checks, failures=failures, config=config,
                         diagnostics=d)
            steps += final.sl
            if final.sl_blocked is not None:
                steps.append(f"SL blocked: {final.sl_blocked.value}")
    steps += final.safety
    moved = final.trail_state if final.trail_state is not None and final.trail_state != position.trail else None
    return SyncDecision(d, tuple(steps), moved)


def outcome(position: Position, decision: SyncDecision, taken: Sequence[str], at: datetime) -> SyncOutcome:
    """What position-sync persists: the decision's phase and protection, and what was done."""
    return SyncOutcome(position_id=position.position_id, at=at, phase=decision.diagnostics.phase,
                       mode=position.mode, actions=tuple(taken), protected=decision.diagnostics.protected)

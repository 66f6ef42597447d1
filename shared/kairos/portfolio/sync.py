"""position-sync: one sync of one position, on one straight path: read, decide, act.

1. Read the position's state once, in the caller's transaction with the position row locked
   (two syncs of one position never interleave): the position, its protective orders, the
   mark, the protective fills not folded yet, the recent failed placements.
2. Decide (``kairos.positions.sync.decide``, pure): the steps in their safety order, with the
   two checked steps (no SL in a sync that places TPs; the TP order's ``exec.order_event``
   triggers the next sync, whose checks release the SL). A reduce-only rejection (-2022)
   makes the next plan a re-read (the reconciler's fills), never a retry loop.
3. Act: every order action becomes a ``cmd.*`` command for the outbox, with the plan's
   deterministic command ids (a repeated sync plans the same ids and the executor dedupes
   them), placements and amends linked to the position in the same transaction; then the
   moved trail and the outcome are persisted.

LIVE and SHADOW differ only in where the orders rest: a SHADOW position's account is a SHADOW
account of the execution service, which holds the orders and fills them from market prices
through the same order -> fill -> position path as a LIVE account's (docs/POSITIONS.md).

The mark is the symbol's latest one (``kairos.portfolio.marks``, recorded by the reconciler)
when it is younger than ``KAIROS_POSITIONS_MARK_MAX_AGE_S``: it advances the emulated trail,
and decides "already beyond the stop / past the TP". Older or none: no mark.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from kairos.contracts.commands import AmendOrder, CancelOrder, ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.execution import OrderEvent
from kairos.contracts.ops import Alert
from kairos.contracts.positions import SyncPosition
from kairos.portfolio import marks, store
from kairos.portfolio.config import PositionsConfig
from kairos.positions import actions as act
from kairos.positions.actions import Action, ActionKind
from kairos.positions.model import Position, ProtectiveOrder
from kairos.positions.plan import PlacementFailure
from kairos.positions.sync import SyncOutcome, UnfoldedFills, decide, outcome

log = logging.getLogger("kairos.position_sync")
COMPONENT = "position-sync"
# A placement asked for within this long and not taken up by the executor yet is not asked for
# again (the outbox delivers it; the executor retries for ~1 min before dead-lettering). In a
# burst the scheduler and the emergency checks would otherwise queue copies the executor drops.
IN_FLIGHT_GRACE = timedelta(seconds=90)


# The order events of a protective order that change what its position needs: the position is
# synced at once (an accepted TP is what releases the checked SL step).
TRIGGERS = frozenset({"OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED"})


@dataclass(frozen=True)
class SyncState:
    """Everything one sync decides from, read once."""

    position: Position
    orders: Sequence[ProtectiveOrder]
    mark: Decimal | None
    unfolded: UnfoldedFills
    failures: Sequence[PlacementFailure]


@dataclass(frozen=True)
class SyncResult:
    outcome: SyncOutcome | None
    outputs: tuple[Envelope[Any], ...]


def position_to_sync(conn: psycopg.Connection, event: Envelope[Any]) -> str | None:
    """The position a ``cmd.sync_position`` names, or whose protective order an ``exec.order_event``
    moved to a state in ``TRIGGERS``; None for any other event (nothing to sync)."""
    data = event.data
    if isinstance(data, SyncPosition):
        return data.position_id
    if isinstance(data, OrderEvent) and data.to_state in TRIGGERS:
        return store.linked_position(conn, data.command_id)
    return None


def run(conn: psycopg.Connection, position_id: str, cause: Envelope[Any], config: PositionsConfig,
        source: str, now: datetime | None = None) -> SyncResult:
    """One sync of one position inside the caller's transaction. An unknown position is a no-op."""
    state = read_state(conn, position_id, config)
    if state is None:
        log.warning("sync of an unknown position ignored", extra={"position_id": position_id})
        return SyncResult(None, ())
    position = state.position
    rules = config.rules_for(position.key.symbol, position.key.venue)
    decision = decide(position, state.orders, rules, mark=state.mark, unfolded=state.unfolded,
                      failures=state.failures, config=config.plan)  # fmt: skip
    commands = Commands(conn, cause, source, position)
    taken = [step if isinstance(step, str) else commands.send(step) for step in decision.steps]
    if decision.trail_state is not None:
        store.save_trail(conn, position.model_copy(update={"trail": decision.trail_state}))
    result = outcome(position, decision, taken, now or datetime.now(UTC))
    store.mark(conn, position_id, protected=result.protected, at=result.at, outcome=result.text())
    log.info("position synced", extra={"position_id": position_id, "phase": result.phase.value,
                                       "protected": result.protected, "commands": len(commands.outputs),
                                       "mark": None if state.mark is None else str(state.mark)})
    return SyncResult(result, tuple(commands.outputs))


def read_state(conn: psycopg.Connection, position_id: str, config: PositionsConfig) -> SyncState | None:
    """The position (its row locked until the caller's transaction ends) and what its sync needs."""
    position = store.load(conn, position_id)
    if position is None:
        return None
    return SyncState(
        position=position,
        orders=store.protective_orders(conn, position_id),
        mark=marks.latest(conn, position.key.venue, position.key.symbol, config.mark_max_age),
        unfolded=store.unfolded(conn, position_id),
        failures=store.failures(conn, position),
    )


@dataclass
class Commands:
    """The order actions of one sync as ``cmd.*`` / ``ops.alert`` outputs of the delivery, in order."""

    conn: psycopg.Connection
    cause: Envelope[Any]
    source: str
    position: Position
    outputs: list[Envelope[Any]] = field(default_factory=list)

    def send(self, action: Action) -> str:
        """Write ``action``'s command (and its link to the position); returns what was done."""
        target = action.target.value if action.target else ""
        if action.kind is ActionKind.PLACE and store.in_flight(self.conn, action.command_id, IN_FLIGHT_GRACE):
            return f"{action.kind.value} {target}: in flight"
        out = self._command(action)
        if out is not None:
            key = COMPONENT if isinstance(out, Alert) else f"{self.position.key.account}|{self.position.key.symbol}"
            self.outputs.append(derive_event(self.cause, out, source=self.source, index=len(self.outputs),
                                             partition_key=key))
        return f"{action.kind.value} {target}: {action.reason}"

    def _command(self, action: Action) -> Any:
        position, pid = self.position, self.position.position_id
        if action.kind in (ActionKind.PLACE, ActionKind.CLOSE_AT_MARKET):
            fields = act.execute_trade_fields(action, position)
            if fields.pop("position_side", None) is not None:
                log.warning("hedge-mode position side dropped: cmd.execute_trade v1 has no position_side",
                            extra={"position_id": pid})
            if action.kind is ActionKind.PLACE and action.target is not None:
                store.link(self.conn, action.command_id, pid, action.target, action.level)
            return ExecuteTrade.model_validate(fields)
        if action.kind is ActionKind.AMEND and action.target is not None:
            store.link(self.conn, action.command_id, pid, action.target, action.level)
            return AmendOrder.model_validate(act.amend_order_fields(action, position))
        if action.kind is ActionKind.CANCEL:
            return CancelOrder.model_validate(act.cancel_order_fields(action, position))
        if action.kind is ActionKind.ALERT:
            code = action.reason.split(":", 1)[0]
            return Alert(severity="critical", code=code, component=COMPONENT,
                         message=f"position {pid}: {action.reason}",
                         action="look at the position at the venue; the fallback closes it at market when configured",
                         details={"position_id": pid, "account": position.key.account, "symbol": position.key.symbol})
        log.info("re-read requested: the next sync plans from the reconciled fills",
                 extra={"position_id": pid, "reason": action.reason})
        return None

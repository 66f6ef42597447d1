"""position-sync's adapters and one sync: load, ``orchestrator.sync_position``, persist.

Both adapters reconcile the same way (the core's ``plan``) and send every order action as a
``cmd.*`` command through the outbox, with the plan's deterministic command ids: a repeated
sync plans the same ids and the executor dedupes them. LIVE and SHADOW differ only in where
the orders rest: a SHADOW position's account is a SHADOW account of the execution service,
which holds the orders and fills them from market prices through the same order -> fill ->
position path as a LIVE account's (docs/POSITIONS.md, SHADOW route a).

Two checked steps, so that no stop is sent for a position a TP has just closed: when a sync
sends TP placements, the SL step is *not* taken in the same sync; the TP order's
``exec.order_event`` triggers the next sync, which checks (from the executor's records:
position still open, no TP fill the fold has not applied, closable quantity covers the stop)
and only then releases the SL. A reduce-only rejection (-2022) makes the next plan a re-read
(the reconciler's fills), never a retry loop.

The plan gets the symbol's latest mark price (``kairos.portfolio.marks``, recorded by the
reconciler) when it is younger than ``KAIROS_POSITIONS_MARK_MAX_AGE_S``: it advances the
emulated trail, and decides "already beyond the stop / past the TP". Older or none: no mark.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from kairos.contracts.commands import AmendOrder, CancelOrder, ExecuteTrade
from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import Alert
from kairos.portfolio import marks, store
from kairos.portfolio.config import PositionsConfig
from kairos.positions import actions as act
from kairos.positions.actions import Action, ActionKind
from kairos.positions.diagnostics import Diagnostics
from kairos.positions.model import Mode, Position, ProtectiveOrder
from kairos.positions.orchestrator import SyncOutcome, sync_position
from kairos.positions.plan import SlBlock, VenueChecks, plan

log = logging.getLogger("kairos.position_sync")
COMPONENT = "position-sync"
# A placement asked for within this long and not taken up by the executor yet is not asked for
# again (the outbox delivers it; the executor retries for ~1 min before dead-lettering). In a
# burst the scheduler and the emergency checks would otherwise queue copies the executor drops.
IN_FLIGHT_GRACE = timedelta(seconds=90)


@dataclass
class ProtectionReconciler:
    """LIVE adapter (the orchestrator's ``TradingAdapter``): one private ``reconcile`` behind the
    three phase methods. Commands are collected in ``outputs``; the caller writes the outbox."""

    conn: psycopg.Connection
    cause: Envelope[Any]
    orders: Sequence[ProtectiveOrder]
    config: PositionsConfig
    source: str
    mode: Mode = Mode.LIVE
    mark: Decimal | None = None
    outputs: list[Envelope[Any]] = field(default_factory=list)
    trail_position: Position | None = None

    async def sync_creation(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]:
        return self._reconcile(position)

    async def sync_promotion(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]:
        return self._reconcile(position)

    async def sync_ongoing(self, position: Position, diagnostics: Diagnostics) -> Sequence[str]:
        return self._reconcile(position)

    def _reconcile(self, position: Position) -> list[str]:
        pending = store.unfolded(self.conn, position.position_id)
        if pending.quantity > 0 and position.is_open:
            # A protective order filled at the venue and the fold has not applied it: the position
            # is stale, and the plan would re-place that TP (its level is not counted as filled
            # yet) or size the SL for too much. Wait for the fill's fold, which syncs again.
            return [f"waiting for {pending.quantity} of protective fills to fold (re-read), SL blocked: "
                    f"{'tp_filled' if pending.tp else 'stale_quantity'}"]
        rules = self.config.rules_for(position.key.symbol)
        failures = store.failures(self.conn, position)
        first = plan(position, self.orders, rules, mark=self.mark, failures=failures, config=self.config.plan)
        done = self._send(position, first.cleanup + first.tp)
        final = first
        if first.sl_blocked is SlBlock.NOT_CHECKED:
            if any(a.kind is ActionKind.PLACE for a in first.tp):
                done.append("SL step waits for the TP order's event")
            else:
                final = plan(position, self.orders, rules, mark=self.mark, checks=self._checks(position),
                             failures=failures, config=self.config.plan)
                done += self._send(position, final.sl)
                if final.sl_blocked is not None:
                    done.append(f"SL blocked: {final.sl_blocked.value}")
        done += self._send(position, final.safety)
        if final.trail_state is not None and final.trail_state != position.trail:
            self.trail_position = position.model_copy(update={"trail": final.trail_state})
        return done

    def _checks(self, position: Position) -> VenueChecks:
        """The checks before the SL step, read from the executor's records of the venue (orders and fills the
        executor and the reconciler wrote), since only the executor may talk to the venue."""
        pending = store.unfolded(self.conn, position.position_id)
        return VenueChecks(position_open=position.is_open and position.quantity > 0, tp_filled=pending.tp,
                           closable_quantity=position.quantity - pending.quantity)

    def _send(self, position: Position, planned: Sequence[Action]) -> list[str]:
        done = []
        for action in planned:
            if action.kind is ActionKind.PLACE and store.in_flight(self.conn, action.command_id, IN_FLIGHT_GRACE):
                done.append(f"{action.kind.value} {action.target.value if action.target else ''}: in flight")
                continue
            out = self._command(position, action)
            if out is not None:
                self.outputs.append(derive_event(self.cause, out, source=self.source, index=len(self.outputs),
                                                 partition_key=self._key(position, out)))
            done.append(f"{action.kind.value} {action.target.value if action.target else ''}: {action.reason}")
        return done

    @staticmethod
    def _key(position: Position, out: Any) -> str:
        return COMPONENT if isinstance(out, Alert) else f"{position.key.account}|{position.key.symbol}"

    def _command(self, position: Position, action: Action) -> Any:
        pid = position.position_id
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


class ShadowProtectionReconciler(ProtectionReconciler):
    """SHADOW adapter: the same reconcile, for a SHADOW account (the execution service simulates
    the venue and fills the protective orders from market prices)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(mode=Mode.SHADOW, **kwargs)


@dataclass(frozen=True)
class SyncResult:
    outcome: SyncOutcome | None
    outputs: tuple[Envelope[Any], ...]


def run(conn: psycopg.Connection, position_id: str, cause: Envelope[Any], config: PositionsConfig,
        source: str, now: datetime | None = None) -> SyncResult:
    """One sync of one position inside the caller's transaction (the row is locked, so two
    syncs of one position never interleave). An unknown position is a no-op."""
    position = store.load(conn, position_id)
    if position is None:
        log.warning("sync of an unknown position ignored", extra={"position_id": position_id})
        return SyncResult(None, ())
    orders = store.protective_orders(conn, position_id)
    mark = marks.latest(conn, position.key.venue, position.key.symbol, config.mark_max_age)
    common: dict[str, Any] = {"conn": conn, "cause": cause, "orders": orders, "config": config, "source": source,
                              "mark": mark}
    live, shadow = ProtectionReconciler(**common), ShadowProtectionReconciler(**common)
    at = now or datetime.now(UTC)
    outcome = asyncio.run(sync_position(position, orders, config.rules_for(position.key.symbol),
                                        {Mode.LIVE: live, Mode.SHADOW: shadow}, at, mark=mark))
    adapter = live if position.mode is Mode.LIVE else shadow
    if adapter.trail_position is not None:
        store.save_trail(conn, adapter.trail_position)
    store.mark(conn, position_id, protected=outcome.protected, at=at, outcome=outcome.text())
    log.info("position synced", extra={"position_id": position_id, "phase": outcome.phase.value,
                                       "protected": outcome.protected, "commands": len(adapter.outputs),
                                       "mark": None if mark is None else str(mark)})
    return SyncResult(outcome, tuple(adapter.outputs))

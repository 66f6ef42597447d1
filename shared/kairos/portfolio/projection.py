"""The positions projection: one ``exec.fill`` -> the position of its slot, its events, and an
immediate ``cmd.sync_position`` (events about a position trigger a sync at once).
A newly opened position to protect also gets an emergency check: a sync held back until it
has been open for ``EMERGENCY_AFTER`` (10 s, the protection SLO), so a stalled immediate path (an order
event lost, an executor restarting) is caught then, not at the next scheduler minute. When
the position is protected by then, that sync plans nothing.

Dedupe is the ``position_fills`` primary key (account, venue, venue trade id), across
position lifetimes; a duplicate fill changes nothing and emits nothing. A fill the fold
refuses (``FoldError``: a reduce-only fill with nothing open, a hedge-mode over-fill) is a
permanent error: it goes to ``dlq.portfolio`` and the projection must be re-read from the
venue, never patched over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, derive_event, new_event
from kairos.contracts.execution import OrderFill
from kairos.contracts.positions import PositionEventKind, SyncPosition, as_contract
from kairos.errors import PermanentError
from kairos.portfolio import protection_settings, store
from kairos.portfolio.config import PositionsConfig
from kairos.positions.fold import FoldError, apply_fill
from kairos.positions.inputs import fill_from_exec
from kairos.positions.model import FillIntent, Mode, Position
from kairos.positions.schedule import EMERGENCY_AFTER, Priority, emergency_check_command_id, immediate_sync_command_id

log = logging.getLogger("kairos.portfolio")


class FillRefused(PermanentError):
    """The fold cannot apply this fill to the projected position: reconcile, then replay the DLQ."""

    code = "fill_refused"


@dataclass(frozen=True)
class Projected:
    positions: tuple[Position, ...]  # touched positions (a flip touches two)
    outputs: tuple[Envelope[Any], ...]
    duplicate: bool = False
    held: tuple[tuple[Envelope[Any], datetime], ...] = ()  # outputs (also in ``outputs``) due later

# Just past the threshold, so the check finds the position "unprotected for more than 10 s".
CHECK_MARGIN = timedelta(seconds=1)


def _as_event(cause: Envelope[Any], data: SyncPosition, source: str) -> Envelope[SyncPosition]:
    """The envelope id is the command id, so the same cause delivered twice asks for one sync."""
    return new_event(data, source=source, partition_key=data.position_id, event_id=data.command_id,
                     correlation_id=cause.meta.correlation_id, causation_id=cause.meta.id, venue=cause.meta.venue)


def sync_command(cause: Envelope[Any], position_id: str, source: str, why: str) -> Envelope[SyncPosition]:
    """An immediate sync of ``position_id`` caused by ``cause``."""
    command_id = immediate_sync_command_id(position_id, cause.meta.id)
    data = SyncPosition(command_id=command_id, position_id=position_id, cause=why)  # type: ignore[arg-type]
    return _as_event(cause, data, source)


def emergency_check(cause: Envelope[Any], position_id: str, source: str, due: datetime) -> Envelope[SyncPosition]:
    """The held-back sync of a newly opened position, ``due`` once it would be an emergency; one
    per opening fill."""
    command_id = emergency_check_command_id(position_id, cause.meta.id)
    data = SyncPosition(command_id=command_id, position_id=position_id, cause="fill",
                        due_at=due, priority=int(Priority.EMERGENCY))
    return _as_event(cause, data, source)


def project(conn: psycopg.Connection, event: Envelope[OrderFill], config: PositionsConfig, source: str) -> Projected:
    """Fold one fill inside the caller's transaction. Raises FillRefused (permanent)."""
    ef = event.data
    if store.fill_seen(conn, ef.account, ef.venue, ef.venue_trade_id):
        log.info("duplicate fill ignored", extra={"venue_trade_id": ef.venue_trade_id})
        return Projected((), (), duplicate=True)
    ctx = store.order_context(conn, ef.command_id, ef.venue_trade_id)
    intent = FillIntent(ctx.intent) if ctx.intent in FillIntent.__members__.values() else FillIntent.ENTRY
    fill = fill_from_exec(ef, intent=intent, reduce_only=ctx.reduce_only, strategy_id=ctx.strategy_id,
                          tag=ctx.kind, tp_level=ctx.tp_level, order_remaining=ctx.remaining)
    current = store.open_in_slot(conn, fill.key)
    mode = Mode.SHADOW if ef.mode == "shadow" else Mode.LIVE
    defaults = protection_settings.open_defaults(conn, config, ef.account, fill.strategy_id, mode)
    try:
        result = apply_fill(current, fill, defaults)
    except FoldError as exc:
        raise FillRefused(f"fill {ef.venue_trade_id} of {ef.account} {ef.symbol}: {exc}; "
                          "reconcile the account, then replay dlq.portfolio") from None
    touched = [p for p in (result.closed, result.position) if p is not None]
    for position in touched:
        store.save(conn, position)
    store.record_fill(conn, fill, result.position.position_id)
    outputs: list[Envelope[Any]] = [
        derive_event(event, as_contract(e), source=source, partition_key=e.position_id, index=i)
        for i, e in enumerate(result.events)
    ]
    outputs += [sync_command(event, p.position_id, source, "fill") for p in touched]
    opened = {e.position_id for e in result.events if e.kind is PositionEventKind.OPENED}
    due = datetime.now(UTC) + EMERGENCY_AFTER + CHECK_MARGIN
    checks = [emergency_check(event, p.position_id, source, due) for p in touched
              if p.position_id in opened and p.protect and p.is_open]
    outputs += checks
    held = tuple((c, due) for c in checks)
    log.info("fill folded", extra={"position_id": result.position.position_id, "status": result.position.status,
                                   "quantity": str(result.position.quantity), "events": len(result.events)})
    return Projected(tuple(touched), tuple(outputs), held=held)

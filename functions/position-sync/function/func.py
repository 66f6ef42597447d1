"""position-sync: reconcile one position's protection (the positions orchestrator and its adapters).

Inputs: ``cmd.sync_position`` (scheduler, fills) and ``exec.order_event`` of a protective
order (accepted, filled, cancelled, rejected, expired: the position is synced at once; an
accepted TP is what releases the checked SL step). Outputs: ``cmd.execute_trade`` /
``cmd.cancel_order`` / ``cmd.amend_order`` for the executor and ``ops.alert``, all through
the outbox in the delivery's transaction, with the plan's deterministic command ids.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.execution import OrderEvent
from kairos.contracts.positions import SyncPosition
from kairos.portfolio import store, sync
from kairos.portfolio.config import PositionsConfig
from kairos.runtime import Context, KairosFunction

TRIGGERS = frozenset({"OPEN", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED"})


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    data = event.data
    if isinstance(data, SyncPosition):
        position_id: str | None = data.position_id
    elif isinstance(data, OrderEvent) and data.to_state in TRIGGERS:
        position_id = store.linked_position(ctx.conn, data.command_id)
    else:
        position_id = None
    if position_id is None:  # an order event of a non-protective order, or a state that changes nothing
        return []
    result = sync.run(ctx.conn, position_id, event, PositionsConfig.from_env(ctx.env), ctx.source)
    return list(result.outputs)


def new() -> KairosFunction:
    return KairosFunction("position-sync", handle)

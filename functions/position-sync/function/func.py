"""position-sync: reconcile one position's protection with what it should have.

Inputs: ``cmd.sync_position`` (scheduler, fills) and ``exec.order_event`` of a protective
order (accepted, filled, cancelled, rejected, expired: the position is synced at once; an
accepted TP is what releases the checked SL step). A sync reads the position's state once,
decides its steps and writes them: ``cmd.execute_trade`` / ``cmd.cancel_order`` /
``cmd.amend_order`` for the executor and ``ops.alert``, all through the outbox in the
delivery's transaction, with the plan's deterministic command ids (``kairos.portfolio.sync``).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.portfolio import sync
from kairos.portfolio.config import PositionsConfig
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    position_id = sync.position_to_sync(ctx.conn, event)
    if position_id is None:  # an order event of a non-protective order, or a state that changes nothing
        return []
    return list(sync.run(ctx.conn, position_id, event, PositionsConfig.from_env(ctx.env), ctx.source).outputs)


def new() -> KairosFunction:
    return KairosFunction("position-sync", handle)

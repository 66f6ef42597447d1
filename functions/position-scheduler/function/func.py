"""position-scheduler (cron, every minute): one ``cmd.sync_position`` per open position,
unprotected positions first (emergencies beyond 10 s due at once), the rest spread over the
minute: each command is written in the tick's transaction and published no earlier than its
``due_at`` (the runtime's held-back outbox rows), so position-sync sees a steady trickle, not a
burst. Ids stable per (position, slot), so a repeated tick emits copies only.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.portfolio.scheduling import commands, plan_tick
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    out = commands(plan_tick(ctx.conn, event.meta.time), event, ctx.source)
    for cmd in out:
        if cmd.data.due_at is not None:
            ctx.publish_not_before(cmd, cmd.data.due_at)
    return list(out)


def new() -> KairosFunction:
    return KairosFunction("position-scheduler", handle)

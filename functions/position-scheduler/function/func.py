"""position-scheduler (cron, every minute): one ``cmd.sync_position`` per open position,
unprotected positions first (emergencies beyond 10 s due at once), the rest spread over the
minute by ``due_at``; ids stable per (position, slot), so a repeated tick emits copies only.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.portfolio.scheduling import commands, plan_tick
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    return list(commands(plan_tick(ctx.conn, event.meta.time), event, ctx.source))


def new() -> KairosFunction:
    return KairosFunction("position-scheduler", handle)

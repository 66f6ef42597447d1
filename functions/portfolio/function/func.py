"""portfolio: ``exec.fill`` -> the positions projection, ``event.position_*`` and an immediate
``cmd.sync_position`` for every position the fill touched.

A thin shell: parse (the runtime), fold (``kairos.positions.fold`` through
``kairos.portfolio.projection``), persist rows and outbox in the delivery's transaction.
A duplicate fill is a no-op; a fill the fold refuses is dead-lettered (``dlq.portfolio``).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.execution import OrderFill
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.projection import project
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[OrderFill], ctx: Context) -> list[Envelope[Any]]:
    return list(project(ctx.conn, event, PositionsConfig.from_env(ctx.env), ctx.source).outputs)


def new() -> KairosFunction:
    return KairosFunction("portfolio", handle)

"""portfolio: ``exec.fill`` -> the positions projection, ``event.position_*`` and an immediate
``cmd.sync_position`` for every position the fill touched, the fill's realized PnL, fee and
holding in the portfolio ledger (``kairos.portfolio.ledger``), plus a held-back emergency check
of a newly opened position to protect (due 11 s after it opened).

A thin shell: parse (the runtime), fold (``kairos.positions.fold`` through
``kairos.portfolio.projection``), persist rows and outbox in the delivery's transaction.
A duplicate fill is a no-op; a fill the fold refuses is dead-lettered (``dlq.portfolio``).
At start, every LIVE account without protection settings of its own is named in a warning.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.execution import OrderFill
from kairos.portfolio import ledger
from kairos.portfolio.config import PositionsConfig
from kairos.portfolio.projection import project
from kairos.portfolio.protection_settings import warn_unset
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[OrderFill], ctx: Context) -> list[Envelope[Any]]:
    ledger.apply_fill(ctx.conn, event.data)  # balances and PnL, once per venue trade id
    result = project(ctx.conn, event, PositionsConfig.from_env(ctx.env), ctx.source)
    for output, due in result.held:  # the emergency check of a new position: sent once due
        ctx.publish_not_before(output, due)
    return list(result.outputs)


def _warn_unset(fn: KairosFunction) -> None:
    assert fn.pool is not None
    with fn.pool.connection() as conn:
        warn_unset(conn, PositionsConfig.from_env(fn.env))


def new() -> KairosFunction:
    return KairosFunction("portfolio", handle, on_ready=_warn_unset)

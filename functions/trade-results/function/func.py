"""trade-results: ``exec.trade_result`` -> the ``trade_results`` table (queryable).

One row per command; a result seen again (redelivery, re-emission) changes nothing.
"""

from __future__ import annotations

from kairos.contracts.envelope import Envelope
from kairos.contracts.execution import TradeResult
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[TradeResult], ctx: Context) -> list[Envelope[TradeResult]]:
    r = event.data
    ctx.conn.execute(
        "INSERT INTO trade_results (command_id, event_id, correlation_id, account, venue, symbol, side, status,"
        " requested_quantity, filled_quantity, average_price, fee, reason, mode, executed_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (command_id) DO NOTHING",
        (
            r.command_id,
            event.meta.id,
            event.meta.correlation_id,
            r.account,
            r.venue,
            r.symbol,
            r.side,
            r.status,
            r.requested_quantity,
            r.filled_quantity,
            r.average_price,
            r.fee,
            r.reason,
            r.mode,
            r.executed_at,
        ),
    )
    return []


def new() -> KairosFunction:
    return KairosFunction("trade-results", handle)

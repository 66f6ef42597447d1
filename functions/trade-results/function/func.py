"""trade-results: ``exec.trade_result`` -> the ``trade_results`` table (queryable).

One row per command; a result seen again (redelivery, re-emission) changes nothing
(``kairos.execution.trade_results``).
"""

from __future__ import annotations

from kairos.contracts.envelope import Envelope
from kairos.contracts.execution import TradeResult
from kairos.execution import trade_results
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[TradeResult], ctx: Context) -> list[Envelope[TradeResult]]:
    trade_results.record(ctx.conn, event)
    return []


def new() -> KairosFunction:
    return KairosFunction("trade-results", handle)

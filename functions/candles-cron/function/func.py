"""candles-cron (cron, every minute): each subscription's closed klines since its cursor, as raw events.

The steps (cursor, re-asking holes, backoff, venue gaps and alerts):
``kairos.marketdata.candles_job``.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope
from kairos.contracts.ops import PingTick
from kairos.marketdata.candles_job import tick
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[PingTick], ctx: Context) -> list[Envelope[Any]]:
    return tick(ctx.conn, event, ctx.env, ctx.source)


def new() -> KairosFunction:
    return KairosFunction("candles-cron", handle)

"""clock-guard (cron, every minute): measure each venue's server-time offset, store it, alert.

Offset > 1 s: a warning on ``ops.alert``. > 5 s: a critical alert, and the executor
refuses new entries with ``CLOCK_DRIFT`` while the stored offset says so (exits,
protective and reduce-only orders, and cancels still go through).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import PingTick
from kairos.execution.clock_guard import check_all
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[PingTick], ctx: Context) -> list[Envelope[Any]]:
    alerts = check_all(ctx.conn, timeout_ms=int(ctx.env.get("KAIROS_EXEC_VENUE_TIMEOUT_MS", "3000")))
    return [
        derive_event(event, alert, source=ctx.source, partition_key="clock-guard", index=i)
        for i, alert in enumerate(alerts)
    ]


def new() -> KairosFunction:
    return KairosFunction("clock-guard", handle)

"""slo-monitor (cron, every minute): protection SLOs (open -> TP+SL resting p50/p99/max,
placement success, positions unprotected and for how long) -> Prometheus gauges, breaches to
``ops.alert`` (critical: unprotected beyond 30 s), which alert-relay sends to people.
Also the pager of the protection path's dead letters (``kairos.portfolio.paging``).
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope, derive_event
from kairos.contracts.ops import PING_EVENT_TYPE
from kairos.portfolio.monitor import report
from kairos.portfolio.paging import dead_letter_alert
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    if event.meta.type != PING_EVENT_TYPE:  # a dead letter of the protection path
        page = dead_letter_alert(ctx.conn, event, ctx.function)
        if page is None:
            return []
        return [derive_event(event, page, source=ctx.source, partition_key="slo-monitor")]
    rep = report(ctx.conn, event.meta.time)
    return [derive_event(event, a, source=ctx.source, partition_key="slo-monitor", index=i)
            for i, a in enumerate(rep.alerts)]


def new() -> KairosFunction:
    return KairosFunction("slo-monitor", handle)

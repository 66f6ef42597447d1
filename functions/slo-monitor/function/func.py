"""slo-monitor (cron, every minute): protection SLOs (open -> TP+SL resting p50/p99/max,
placement success, positions unprotected and for how long) -> Prometheus gauges, breaches to
``ops.alert`` (critical: unprotected beyond 30 s) and to the optional Telegram-format webhook.
"""

from __future__ import annotations

from typing import Any

from kairos.contracts.envelope import Envelope, derive_event
from kairos.portfolio.monitor import notify, report
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    rep = report(ctx.conn, event.meta.time)
    notify(rep.alerts, ctx.env)
    return [derive_event(event, a, source=ctx.source, partition_key="slo-monitor", index=i)
            for i, a in enumerate(rep.alerts)]


def new() -> KairosFunction:
    return KairosFunction("slo-monitor", handle)

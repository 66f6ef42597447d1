"""Operational events: cron ticks that arrive from PingSource, and alerts (``ops.*``)."""

from __future__ import annotations

from typing import Any, Literal

from kairos.contracts.registry import register
from kairos.contracts.types import Contract

PING_EVENT_TYPE = "dev.knative.sources.ping"


@register(PING_EVENT_TYPE, 1)
class PingTick(Contract):
    """The data a PingSource tick carries: whatever the catalog's cron entry says."""

    model_config = Contract.model_config | {"extra": "allow"}

    job: str | None = None
    args: dict[str, Any] | None = None


@register("kairos.ops.alert", 1)
class Alert(Contract):
    """Something an operator must know about: severity, what, and what to do."""

    severity: Literal["info", "warning", "critical"]
    code: str
    message: str
    component: str
    action: str | None = None
    details: dict[str, Any] | None = None

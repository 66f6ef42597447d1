"""The local PingSource: a CloudEvent per cron tick, POSTed to the function.

Like Knative's PingSource, every tick is a new event with a random id, type
``dev.knative.sources.ping``, ``time`` = the scheduled time, and the catalog's data. It is
retried 5 times, then given up. Because the id is random, functions dedupe cron ticks by
(function, schedule slot) — the ``source`` and ``time`` attributes — not by id.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cloudevents.core.v1.event import CloudEvent
from croniter import croniter

from kairos.catalog.model import DeliveryPolicy
from kairos.contracts.ops import PING_EVENT_TYPE
from kairos.delivery.dispatch import Dispatcher
from kairos.delivery.stats import DeliveryStats

log = logging.getLogger(__name__)

PING_POLICY = DeliveryPolicy(retry=5, backoff_policy="exponential", backoff_delay="PT0.5S", timeout="PT30S")


@dataclass(frozen=True)
class PingSourceSpec:
    name: str
    schedule: str
    timezone: str
    sink_url: str
    data: dict[str, Any] = field(default_factory=dict)
    namespace: str = "kairos"

    @property
    def source_uri(self) -> str:
        return f"/apis/v1/namespaces/{self.namespace}/pingsources/{self.name}"


def tick_event(spec: PingSourceSpec, scheduled: datetime) -> CloudEvent:
    """One tick's event: a fresh random id each time, the slot in ``time``."""
    return CloudEvent(
        attributes={
            "id": str(uuid.uuid4()),
            "type": PING_EVENT_TYPE,
            "source": spec.source_uri,
            "specversion": "1.0",
            "time": scheduled,
            "datacontenttype": "application/json",
        },
        data=json.loads(json.dumps(spec.data)),
    )


class PingSourceDelivery:
    """Fires ticks on schedule until ``stop`` is set."""

    def __init__(self, spec: PingSourceSpec, policy: DeliveryPolicy = PING_POLICY) -> None:
        self.spec = spec
        self.policy = policy
        self.stop = threading.Event()
        self.stats = DeliveryStats(spec.name, "ping")

    def fire(self, scheduled: datetime) -> bool:
        dispatcher = Dispatcher(self.spec.sink_url, self.policy, self.stop)
        try:
            result = dispatcher.send(tick_event(self.spec, scheduled))
        finally:
            dispatcher.close()
        if result.attempts > 1:
            self.stats.add(retried=result.attempts - 1)
        if result.ok:
            self.stats.add(delivered=1)
        else:
            self.stats.add(failed=1)
            log.error(
                "cron tick given up after retries",
                extra={"cron": self.spec.name, "status": result.status, "scheduled": scheduled.isoformat()},
            )
        return result.ok

    def run(self) -> None:
        tz = ZoneInfo(self.spec.timezone)
        it = croniter(self.spec.schedule, datetime.now(tz))
        log.info("ping source started", extra={"cron": self.spec.name, "schedule": self.spec.schedule})
        while not self.stop.is_set():
            scheduled: datetime = it.get_next(datetime)
            wait = (scheduled - datetime.now(tz)).total_seconds()
            if wait > 0 and self.stop.wait(wait):
                break
            self.fire(scheduled)

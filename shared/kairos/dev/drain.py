"""When is the system drained? Every subscription at lag 0, nothing in flight, outbox empty.

The lag comes from the delivery process's stats file, which is written twice a second;
"drained" is only believed once the stats were written after the sources stopped, every
partition of every subscribed topic has reported a high watermark, and the condition
held for a moment (a function publishes after its commit, so a record can appear on the
next topic just after the previous hop's lag reached zero).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx
from cloudevents.core.v1.event import CloudEvent

from kairos.contracts.codec import cloudevent_to_http_binary
from kairos.contracts.ops import PING_EVENT_TYPE
from kairos.dev.view import Snapshot

STABLE_FOR = 1.5
KICK_RELAY_AFTER = 3.0


class Drain:
    """Tracks one drain: started when the sources stopped, bounded by ``timeout``."""

    def __init__(self, partitions: dict[str, int], sources_stopped_at: float, timeout: float) -> None:
        self.partitions = partitions
        self.started = sources_stopped_at
        self.deadline = time.monotonic() + timeout
        self.stable_since: float | None = None
        self.backlog_since: float | None = None
        self.relay_kicks = 0
        self.why = "waiting for delivery stats"

    def complete(self, snap: Snapshot, stats_written_at: float) -> bool:
        if stats_written_at < self.started + 0.5:
            self.why = "waiting for fresh delivery stats"
            return False
        seen = {s.name: s.partitions_seen for s in snap.subscriptions}
        missing = [n for n, parts in self.partitions.items() if seen.get(n, 0) < parts]
        if missing:
            self.why = f"waiting for offsets of {', '.join(missing)}"
            return False
        lagging = {s.name: s.lag for s in snap.subscriptions if s.lag or s.in_flight}
        if lagging:
            self.why = "lag " + ", ".join(f"{k}={v}" for k, v in lagging.items())
            return False
        if snap.outbox_backlog != 0:
            self.why = f"outbox backlog {snap.outbox_backlog}"
            return False
        self.why = "drained"
        return True

    def done(self, snap: Snapshot, stats_written_at: float) -> bool:
        now = time.monotonic()
        if not self.complete(snap, stats_written_at):
            self.stable_since = None
            return False
        self.stable_since = self.stable_since or now
        return now - self.stable_since >= STABLE_FOR

    def note(self) -> str:
        return f"draining: {self.why}"

    def timed_out(self) -> bool:
        return time.monotonic() > self.deadline

    def should_kick_relay(self, snap: Snapshot) -> bool:
        """The outbox stays non-empty while nothing else moves: the relay need not wait a minute."""
        now = time.monotonic()
        if not snap.outbox_backlog or snap.total_lag:
            self.backlog_since = None
            return False
        self.backlog_since = self.backlog_since or now
        return now - self.backlog_since >= KICK_RELAY_AFTER * (self.relay_kicks + 1)

    def kick_relay(self, url: str) -> None:
        """Send the outbox-relay a ping tick now, as its PingSource would at the next minute."""
        self.relay_kicks += 1
        tick = CloudEvent(
            attributes={
                "id": str(uuid.uuid4()),
                "type": PING_EVENT_TYPE,
                "source": "/kairos/dev/drain",
                "specversion": "1.0",
                "time": datetime.now(UTC),
                "datacontenttype": "application/json",
            },
            data={"job": "outbox-relay"},
        )
        headers, body = cloudevent_to_http_binary(tick)
        try:
            httpx.post(url, headers=headers, content=body, timeout=10)
        except httpx.HTTPError:
            pass  # the relay's own PingSource still runs every minute

    def left(self, snap: Snapshot) -> dict[str, int]:
        left = {s.name: s.lag for s in snap.subscriptions if s.lag}
        if snap.outbox_backlog:
            left["outbox"] = snap.outbox_backlog
        missing = [n for n, parts in self.partitions.items() if n not in {s.name for s in snap.subscriptions}]
        for name in missing:
            left[name + " (no stats)"] = -1
        return left

"""outbox-relay (cron): publish the outbox rows a crash left unpublished.

Functions publish their outbox right after commit; this job catches what a crash between
commit and publish left behind. It polls for unpublished rows older than a grace period
(never "ids above the last one seen", so a low id that commits late is not skipped),
locks them so two relays never send the same row, publishes, and marks them.
"""

from __future__ import annotations

import logging

from kairos.bus.kafka import send_records
from kairos.contracts.envelope import Envelope
from kairos.contracts.ops import PingTick
from kairos.runtime import Context, KairosFunction, recorder

log = logging.getLogger("kairos.outbox_relay")
BATCH = 500


def handle(event: Envelope[PingTick], ctx: Context) -> list[Envelope[PingTick]]:
    grace = float(ctx.env.get("KAIROS_OUTBOX_RELAY_GRACE_S", "5"))
    producer = ctx.runtime.producer
    assert producer is not None, "runtime is ready, so the producer exists"
    total = 0
    while True:
        rows = recorder.lock_unpublished(ctx.conn, older_than_s=grace, limit=BATCH)
        if not rows:
            break
        send_records(producer, [(r.topic, r.record) for r in rows])
        recorder.mark_published(ctx.conn, [r.id for r in rows])
        total += len(rows)
    if total:
        log.warning("relayed outbox rows a crash left behind", extra={"rows": total})
    return []


def new() -> KairosFunction:
    return KairosFunction("outbox-relay", handle)

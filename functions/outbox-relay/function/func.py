"""outbox-relay (cron): publish the outbox rows a crash left unpublished.

Functions publish their outbox right after commit; this job catches what a crash between
commit and publish left behind: rows still unpublished after a grace period
(``KAIROS_OUTBOX_RELAY_GRACE_S``, default 5 s) are locked, sent and marked, so two relays
never send the same row (``kairos.runtime.publisher.relay_unpublished``).
"""

from __future__ import annotations

import logging

from kairos.contracts.envelope import Envelope
from kairos.contracts.ops import PingTick
from kairos.runtime import Context, KairosFunction
from kairos.runtime.publisher import relay_unpublished

log = logging.getLogger("kairos.outbox_relay")


def handle(event: Envelope[PingTick], ctx: Context) -> list[Envelope[PingTick]]:
    assert ctx.producer is not None, "runtime is ready, so the producer exists"
    grace = float(ctx.env.get("KAIROS_OUTBOX_RELAY_GRACE_S", "5"))
    total = relay_unpublished(ctx.conn, ctx.producer, older_than_s=grace)
    if total:
        log.warning("relayed outbox rows a crash left behind", extra={"rows": total})
    return []


def new() -> KairosFunction:
    return KairosFunction("outbox-relay", handle)

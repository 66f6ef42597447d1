"""archive-flush (cron): staged events -> gzip JSON Lines objects in S3, with their manifest.

Uploads what a crash or an outage left sealed, then seals and uploads what is due; alerts
when the backlog grows (kairos.archive.flush, docs/ARCHIVE.md).
"""

from __future__ import annotations

from typing import Any

from kairos.archive.flush import run_job
from kairos.contracts.envelope import Envelope
from kairos.contracts.ops import PingTick
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[PingTick], ctx: Context) -> list[Envelope[Any]]:
    return list(run_job(event, ctx.env, ctx.source))


def new() -> KairosFunction:
    return KairosFunction("archive-flush", handle)

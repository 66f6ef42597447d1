"""archiver: every event of the raw, norm, exec, event and signal topics -> one staged row in Postgres.

archive-flush writes the staged rows to object storage (kairos.archive, docs/ARCHIVE.md).
"""

from __future__ import annotations

from typing import Any

from kairos.archive.archiver import stage_event
from kairos.contracts.envelope import Envelope
from kairos.runtime import Context, KairosFunction


def handle(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    stage_event(ctx.conn, ctx.function, event)
    return []


def new() -> KairosFunction:
    return KairosFunction("archiver", handle)

"""position-scheduler's tick: every open position -> one ``cmd.sync_position`` for this slot.

The order and the ``due_at`` of each command come from the core's ``schedule`` (emergencies
first and due at once, the rest spread evenly over the minute); the command id is stable per
(position, slot), and the envelope id is the command id, so a repeated tick or a second
replica emits copies that position-sync's inbox drops.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from kairos.contracts.envelope import Envelope, new_event
from kairos.contracts.positions import SyncPosition
from kairos.positions import queries
from kairos.positions.schedule import ScheduledSync, ScheduleEntry, schedule


def plan_tick(conn: psycopg.Connection, tick: datetime) -> list[ScheduledSync]:
    rows = conn.execute(queries.SCHEDULE_OPEN_POSITIONS).fetchall()
    return schedule([ScheduleEntry(r[0], r[1]) for r in rows], tick)


def commands(planned: list[ScheduledSync], cause: Envelope[Any], source: str) -> list[Envelope[SyncPosition]]:
    out = []
    for s in planned:
        data = SyncPosition(command_id=s.command_id, position_id=s.position_id, cause="schedule", slot=s.slot,
                            due_at=s.due_at, priority=int(s.priority))
        out.append(new_event(data, source=source, partition_key=s.position_id, event_id=s.command_id,
                             correlation_id=cause.meta.correlation_id, causation_id=cause.meta.id))
    return out

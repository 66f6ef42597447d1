"""The position scheduler's arithmetic: which ``sync_position`` commands, in what order, when.

The scheduler ticks every minute and spreads one sync per open position evenly over
the interval instead of firing a burst; it puts unprotected positions first and treats
those unprotected for more than 10 s as emergencies that bypass the spreading. Command ids are
stable per (position, slot): a cron tick delivered twice, or two scheduler replicas, emit the
same ids and the consumer's inbox drops the copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from kairos.positions.ids import stable_id

EMERGENCY_AFTER = timedelta(seconds=10)
DEFAULT_INTERVAL = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Priority(IntEnum):
    """Lower runs first."""

    EMERGENCY = 0  # unprotected for more than EMERGENCY_AFTER
    UNPROTECTED = 1
    ROUTINE = 2


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One open position as the detection query returns it."""

    position_id: str
    unprotected_since: datetime | None = None  # None: protected


@dataclass(frozen=True, slots=True)
class ScheduledSync:
    position_id: str
    command_id: str
    due_at: datetime
    priority: Priority
    slot: datetime


def priority(entry: ScheduleEntry, now: datetime) -> Priority:
    if entry.unprotected_since is None:
        return Priority.ROUTINE
    return Priority.EMERGENCY if now - entry.unprotected_since > EMERGENCY_AFTER else Priority.UNPROTECTED


def slot_start(tick: datetime, interval: timedelta = DEFAULT_INTERVAL) -> datetime:
    """The interval boundary at or before ``tick``: a late or repeated cron tick maps to the same slot."""
    elapsed = (tick - EPOCH) // interval
    return EPOCH + elapsed * interval


def sync_command_id(position_id: str, slot: datetime) -> str:
    return stable_id("sync_position", position_id, slot.isoformat(), prefix="sync-")


def immediate_sync_command_id(position_id: str, cause_event_id: str) -> str:
    """For syncs triggered by an event (a fill, a TP/SL order event): one per cause."""
    return stable_id("sync_position_now", position_id, cause_event_id, prefix="sync-")


def emergency_check_command_id(position_id: str, cause_event_id: str) -> str:
    """For the check a new position gets once ``EMERGENCY_AFTER`` has passed: one per opening fill."""
    return stable_id("sync_position_emergency_check", position_id, cause_event_id, prefix="sync-")


def schedule(
    entries: Iterable[ScheduleEntry], tick: datetime, interval: timedelta = DEFAULT_INTERVAL
) -> list[ScheduledSync]:
    """One sync per position for the slot of ``tick``, emergencies due at once, the rest evenly spread.

    Order: emergencies (longest unprotected first), then unprotected, then routine; ties by
    position id, so the plan is the same on every replica. A position listed twice is synced once.
    """
    slot = slot_start(tick, interval)
    ranked = []
    for e in {e.position_id: e for e in entries}.values():
        age = (tick - e.unprotected_since).total_seconds() if e.unprotected_since is not None else 0.0
        ranked.append((priority(e, tick), -age, e.position_id))
    ranked.sort()
    start = max(slot, tick)  # a late tick still spreads over what is left of its slot, never in the past
    span = slot + interval - start
    rest = sum(1 for p, _, _ in ranked if p is not Priority.EMERGENCY)
    out: list[ScheduledSync] = []
    n = 0
    for prio, _, position_id in ranked:
        if prio is Priority.EMERGENCY:
            due = start
        else:
            due = start + span * n / rest
            n += 1
        out.append(ScheduledSync(position_id, sync_command_id(position_id, slot), due, prio, slot))
    return out

"""The scheduler's spreading, stable ids and priority order."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from kairos.positions.schedule import (
    Priority,
    ScheduleEntry,
    immediate_sync_command_id,
    priority,
    schedule,
    slot_start,
    sync_command_id,
)
from kairos_testkit.position_builders import T0, at


def test_routine_positions_are_spread_evenly_over_the_interval() -> None:
    entries = [ScheduleEntry(f"p{i}") for i in range(4)]
    out = schedule(entries, T0)
    assert [s.due_at for s in out] == [at(0), at(15), at(30), at(45)]
    assert {s.slot for s in out} == {T0} and all(s.priority is Priority.ROUTINE for s in out)


def test_emergencies_first_and_due_at_once_then_unprotected_then_routine() -> None:
    entries = [
        ScheduleEntry("routine"),
        ScheduleEntry("fresh", unprotected_since=at(-5)),
        ScheduleEntry("old", unprotected_since=at(-60)),
        ScheduleEntry("older", unprotected_since=at(-120)),
    ]
    out = schedule(entries, T0)
    assert [s.position_id for s in out] == ["older", "old", "fresh", "routine"]
    assert [s.priority for s in out] == [Priority.EMERGENCY, Priority.EMERGENCY, Priority.UNPROTECTED,
                                         Priority.ROUTINE]
    assert out[0].due_at == out[1].due_at == out[2].due_at == T0 and out[3].due_at == at(30)


def test_priority_boundary_is_strictly_more_than_ten_seconds() -> None:
    assert priority(ScheduleEntry("p", unprotected_since=at(-10)), T0) is Priority.UNPROTECTED
    assert priority(ScheduleEntry("p", unprotected_since=at(-10.001)), T0) is Priority.EMERGENCY
    assert priority(ScheduleEntry("p"), T0) is Priority.ROUTINE


def test_repeated_or_late_tick_in_the_same_slot_gives_the_same_ids() -> None:
    entries = [ScheduleEntry("a"), ScheduleEntry("b")]
    first = schedule(entries, T0)
    late = schedule(entries, at(20))
    assert [s.command_id for s in first] == [s.command_id for s in late]
    assert late[0].due_at == at(20) and late[1].due_at == at(40)  # never in the past, still inside the slot
    assert schedule(entries, at(60))[0].command_id != first[0].command_id


def test_duplicate_entries_are_scheduled_once() -> None:
    assert len(schedule([ScheduleEntry("a"), ScheduleEntry("a")], T0)) == 1


def test_slot_start_floors_to_the_interval_and_ids_differ_per_cause() -> None:
    assert slot_start(at(59.9)) == T0 and slot_start(at(60)) == at(60)
    assert slot_start(at(301), timedelta(minutes=5)) == at(300)
    assert sync_command_id("p", T0) != sync_command_id("p", at(60))
    assert immediate_sync_command_id("p", "e1") != immediate_sync_command_id("p", "e2")
    assert immediate_sync_command_id("p", "e1") == immediate_sync_command_id("p", "e1")


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=500), st.floats(min_value=0, max_value=59.9))
def test_spread_stays_inside_the_slot_and_has_even_gaps(n: int, offset: float) -> None:
    tick = at(offset)
    out = schedule([ScheduleEntry(f"p{i:04d}") for i in range(n)], tick)
    dues = [s.due_at for s in out]
    assert dues == sorted(dues) and dues[0] >= tick and dues[-1] < T0 + timedelta(minutes=1)
    gaps = {round((b - a).total_seconds(), 3) for a, b in itertools.pairwise(dues)}
    assert len(gaps) <= 2  # even up to microsecond rounding
    assert len({s.command_id for s in out}) == n

"""Outputs held back until a time (``Context.publish_not_before``): written at once, published
when due by the function's publisher, and never early by the relay (real Postgres and broker)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from kairos.contracts.envelope import Envelope, derive_event, new_event
from kairos.contracts.ops import PingTick
from kairos.contracts.positions import SyncPosition
from kairos.runtime import Context, KairosFunction, recorder
from kairos.runtime.db import migrate
from kairos_testkit.events import ping_event
from kairos_testkit.functions import catalog_env, runtime_env
from kairos_testkit.topics import create_topics, read_topic, record_envelopes
from kairos_testkit.waiting import wait_until

HOLD_S = 2.0


@pytest.fixture(scope="module")
def broker(kafka_bootstrap):
    create_topics(kafka_bootstrap)
    return kafka_bootstrap


def _two_syncs(event: Envelope[Any], ctx: Context) -> list[Envelope[Any]]:
    """One sync due now, one held back HOLD_S seconds (what position-scheduler does over a minute)."""
    now = datetime.now(UTC)
    out = []
    for i, delay in enumerate((0.0, HOLD_S)):
        due = now + timedelta(seconds=delay)
        cmd = SyncPosition(command_id=f"held-sync-{i:04d}", position_id=f"held-pos-{i}", cause="schedule", due_at=due)
        env = derive_event(event, cmd, source=ctx.source, partition_key=cmd.position_id, index=i)
        ctx.publish_not_before(env, due)
        out.append(env)
    return out


def _published(url: str) -> dict[str, tuple[datetime | None, datetime | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT convert_from(value, 'UTF8'), published_at, not_before FROM outbox"
            " WHERE event_type = 'kairos.cmd.sync_position'"
        ).fetchall()
    return {("held-sync-0001" if "held-sync-0001" in v else "held-sync-0000"): (p, nb) for v, p, nb in rows}


def test_held_back_output_is_published_when_due_not_before(database_url, broker):
    fn = KairosFunction("position-scheduler", _two_syncs)
    fn.start({**catalog_env("position-scheduler"), **runtime_env(database_url, broker)})
    fn.wait_ready(60)
    try:
        started = time.monotonic()
        assert fn.process(ping_event("/tests/held", datetime.now(UTC))).status == 204
        wait_until(lambda: _published(database_url)["held-sync-0000"][0] is not None, 10, "the due sync published")
        if time.monotonic() - started < HOLD_S - 0.5:  # (a very slow machine may already be past the hold)
            assert _published(database_url)["held-sync-0001"][0] is None, "a held-back row was published early"
        wait_until(lambda: _published(database_url)["held-sync-0001"][0] is not None, 15, "the held sync published")
        published_at, not_before = _published(database_url)["held-sync-0001"]
        assert not_before is not None and published_at is not None and published_at >= not_before
    finally:
        fn.stop()
    got = {e.data.command_id for e in record_envelopes(read_topic(broker, "cmd.sync_position", 2))}
    assert {"held-sync-0000", "held-sync-0001"} <= got


def test_relay_leaves_a_held_back_row_until_it_is_due(database_url, broker):
    cause = new_event(PingTick(job="t"), source="/tests/held", partition_key="t")
    later = new_event(PingTick(job="later"), source="/tests/held", partition_key="t")
    past = new_event(PingTick(job="past"), source="/tests/held", partition_key="t")
    migrate(database_url)
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        with conn.transaction():
            rows = recorder.append_outbox(
                conn, "tests", [("ops.alert", later), ("ops.alert", past)],
                {later.meta.id: now + timedelta(minutes=5), past.meta.id: now - timedelta(seconds=1)},
            )
        with conn.transaction():
            taken = {r.id for r in recorder.lock_unpublished(conn, older_than_s=0, limit=10_000)}
            backlog_ids = {r[0] for r in conn.execute(
                "SELECT id FROM outbox WHERE published_at IS NULL AND coalesce(not_before, now()) <= now()")}
    held, due = rows
    assert held.id not in taken and due.id in taken
    assert held.id not in backlog_ids, "a held-back row is not a backlog before it is due"
    assert cause.meta.id  # (the tick itself is not written)

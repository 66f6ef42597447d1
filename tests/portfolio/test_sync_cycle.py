"""SYNC_CYCLE_SLOW: slo-monitor measures how late position-sync takes the scheduled syncs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
from kairos.portfolio.monitor import report, sync_cycle_seconds
from kairos.runtime.db import apply_migrations


def _scheduled(conn: psycopg.Connection, event_id: str, due: datetime, handled: datetime | None) -> None:
    conn.execute(
        "INSERT INTO outbox (event_id, event_type, producer, topic, headers, value, not_before)"
        " VALUES (%s, 'kairos.cmd.sync_position', 'position-scheduler', 'cmd.sync_position', %s, %s, %s)",
        (event_id, json.dumps([]), b"{}", due),
    )
    if handled is not None:
        conn.execute(
            "INSERT INTO inbox (consumer, event_id, event_type, received_at)"
            " VALUES ('position-sync', %s, 'kairos.cmd.sync_position', %s)",
            (event_id, handled),
        )


def test_a_sync_taken_late_raises_sync_cycle_slow(database_url: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(database_url, autocommit=True) as conn:
        apply_migrations(conn)
        assert sync_cycle_seconds(conn, now) is None
        _scheduled(conn, "s1", now - timedelta(seconds=30), now - timedelta(seconds=29.8))
        _scheduled(conn, "s2", now - timedelta(seconds=20), now - timedelta(seconds=19.5))
        _scheduled(conn, "old", now - timedelta(minutes=5), None)  # an earlier minute: not this cycle
        assert abs((sync_cycle_seconds(conn, now) or 0) - 0.5) < 0.01
        assert "SYNC_CYCLE_SLOW" not in [a.code for a in report(conn, now).alerts]

        _scheduled(conn, "s3", now - timedelta(seconds=8), None)  # due 8 s ago, still not taken
        assert abs((sync_cycle_seconds(conn, now) or 0) - 8) < 0.01
        (slow,) = [a for a in report(conn, now).alerts if a.code == "SYNC_CYCLE_SLOW"]
        assert slow.severity == "warning" and slow.details == {"cycle_s": 8.0}

"""slo-monitor's tick: protection timestamps from ``positions``, placement counts from the
executor's orders and the sync cycle -> the core's ``slo.evaluate`` -> alerts and gauges.

The sync cycle is the protection loop's pass over every open position: position-scheduler
emits one ``cmd.sync_position`` per position and slot, each due at its own moment of the
minute; position-sync handles it. The cycle time reported is the longest delay, among the
scheduled syncs due in the last minute, from a sync's due time to position-sync taking it
(still waiting: until now). Over 5 s (``SYNC_CYCLE_SLOW``) position-sync is not keeping up.

The alerts go to ``ops.alert`` like every other; alert-relay (:mod:`kairos.alerting.relay`)
is the one path from there to a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from prometheus_client import Gauge

from kairos.positions.slo import ProtectionRecord, SloReport, evaluate

WINDOW = timedelta(hours=24)

UNPROTECTED = Gauge("kairos_positions_unprotected", "Open positions currently lacking TP/SL")
UNPROTECTED_MAX = Gauge("kairos_positions_unprotected_max_seconds", "Longest current time without TP/SL")
DELAY_P99 = Gauge("kairos_positions_protection_delay_p99_seconds", "Open to TP+SL resting, p99 over 24 h")
SUCCESS = Gauge("kairos_positions_placement_success_ratio", "Protective placements not rejected, over 24 h")
SYNC_CYCLE = Gauge("kairos_positions_sync_cycle_seconds", "Longest due-to-handled delay of the last minute's syncs")
CYCLE_WINDOW = timedelta(minutes=1)
OPEN = Gauge("kairos_positions_open", "Positions not closed, by account and mode", ["account", "mode"])
PNL = Gauge(
    "kairos_positions_pnl_24h",
    "Realised PnL minus fees of positions touched in 24 h (quote currency)",
    ["account", "mode"],
)


def record_book(conn: psycopg.Connection, now: datetime) -> None:
    """Open positions and the last day's realised PnL per account, for the dashboard."""
    OPEN.clear()
    PNL.clear()
    rows = conn.execute(
        "SELECT account, mode, count(*) FILTER (WHERE status <> 'CLOSED'),"
        " coalesce(sum(realised_pnl - fees_paid) FILTER (WHERE updated_at > %s), 0)"
        " FROM positions GROUP BY account, mode",
        (now - WINDOW,),
    ).fetchall()
    for account, mode, open_count, pnl in rows:
        OPEN.labels(account, mode).set(int(open_count))
        PNL.labels(account, mode).set(float(pnl))


def sync_cycle_seconds(conn: psycopg.Connection, now: datetime) -> float | None:
    """The slowest scheduled sync due in the minute before ``now`` (None: none was due)."""
    row = conn.execute(
        "SELECT max(extract(epoch FROM coalesce(i.received_at, %(now)s) - coalesce(o.not_before, o.created_at)))"
        " FROM outbox o LEFT JOIN inbox i ON i.consumer = 'position-sync' AND i.event_id = o.event_id"
        " WHERE o.producer = 'position-scheduler' AND o.event_type = 'kairos.cmd.sync_position'"
        " AND coalesce(o.not_before, o.created_at) BETWEEN %(since)s AND %(now)s",
        {"now": now, "since": now - CYCLE_WINDOW},
    ).fetchone()
    return None if row is None or row[0] is None else max(0.0, float(row[0]))


def report(conn: psycopg.Connection, now: datetime) -> SloReport:
    rows = conn.execute(
        "SELECT position_id, opened_at, protected_at, unprotected_since, closed_at FROM positions"
        " WHERE protect AND (status <> 'CLOSED' OR closed_at > %s)", (now - WINDOW,),
    ).fetchall()
    counts = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE o.state <> 'REJECTED') FROM position_protective_orders l"
        " JOIN orders o ON o.command_id = l.command_id WHERE o.created_at > %s", (now - WINDOW,),
    ).fetchone()
    assert counts is not None
    cycle = sync_cycle_seconds(conn, now)
    rep = evaluate([ProtectionRecord(*r) for r in rows], now, sync_cycle_s=cycle,
                   placements_attempted=int(counts[0]), placements_succeeded=int(counts[1]))
    UNPROTECTED.set(len(rep.unprotected))
    UNPROTECTED_MAX.set(rep.unprotected[0][1] if rep.unprotected else 0)
    DELAY_P99.set(rep.delay_p99_s or 0)
    SUCCESS.set(rep.placement_success_rate if rep.placement_success_rate is not None else 1)
    SYNC_CYCLE.set(cycle or 0)
    record_book(conn, now)
    return rep
